"""SQS partial batch responses, answered as Powertools' ``process_partial_response`` with a
``BatchProcessor(EventType.SQS)`` answers them, in a few lines of acmevault's own (issue 14, speed).

Why not Powertools' batch utility: importing ``aws_lambda_powertools.utilities.batch`` cost IssueFunction's init
about 30 ms of CPU on Python 3.13 (a fifth of it), for work that neither its init nor an issuance needs: the
utility imports asyncio (for its async processor) and, through ``utilities.data_classes``, every event data class
Powertools has (DynamoDB streams, Kinesis, Kafka, AppSync, ...), where the issue worker reads one SQS message's body.

The answers are Powertools' own (tests/unit/test_sqs_batch.py holds the two together, Powertools the reference):

- every record goes to the record handler in turn, with the Lambda context; a record whose handler raises an
  ``Exception`` failed (any other ``BaseException`` goes up at once, as in Powertools);
- none failed: ``{"batchItemFailures": []}``; some: ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}``
  in the batch's order, so SQS redelivers just those;
- every one failed: Powertools' ``BatchProcessingError`` ("All records failed processing. N individual errors
  logged separately below.", with each record's exception), so Lambda fails the invocation and SQS redelivers the
  whole batch, reported with Powertools' error type and message;
- an event that is not a batch of SQS records (no ``Records``, an empty or non-list one, not a dict): handed to
  Powertools' own function, which raises its error for it.

Powertools is imported only on those last two paths. The one difference: Powertools' own debug lines (on its
``aws_lambda_powertools`` logger, shown only with ``POWERTOOLS_DEBUG``) are not written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

SqsRecord = dict[str, Any]  # one SQS message as Lambda delivers it: messageId, body, attributes, ...
RecordHandler = Callable[[SqsRecord, Any], object]  # (record, Lambda context); raises when the record failed
ExceptionInfo = tuple[type[BaseException] | None, BaseException | None, TracebackType | None]  # sys.exc_info()


def partial_batch_response(event: Any, record_handler: RecordHandler, context: Any) -> dict[str, Any]:
    """Hand each SQS record to ``record_handler``; answer which ones SQS should deliver again."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        return _powertools(event, record_handler, context)
    failed: list[SqsRecord] = []
    exceptions: list[ExceptionInfo] = []
    for record in records:
        try:
            record_handler(record, context)
        except Exception:  # noqa: BLE001 - a failed record, as Powertools counts one: reported, not raised
            exceptions.append(sys.exc_info())
            failed.append(record)
    if failed and len(failed) == len(records):
        from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

        raise BatchProcessingError(
            msg=f"All records failed processing. {len(exceptions)} individual errors logged separately below.",
            child_exceptions=list(exceptions),
        )
    return {"batchItemFailures": [{"itemIdentifier": record["messageId"]} for record in failed]}


def _powertools(event: Any, record_handler: RecordHandler, context: Any) -> dict[str, Any]:
    """What Powertools answers for an event that is not a batch of SQS records: its own error."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def handle(record: Any, lambda_context: Any) -> object:
        return record_handler(record.raw_event, lambda_context)

    answer = process_partial_response(event, handle, BatchProcessor(event_type=EventType.SQS), context)
    return dict(answer)
