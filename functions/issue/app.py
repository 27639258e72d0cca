"""SQS → issue or renew one certificate per message; transient failures and on-demand messages that meet another
worker's lease go back to the queue (a redelivered on-demand message whose certificate moved on does nothing);
an order the CA is still processing (awaiting its approval) comes back as a new, delayed message."""

from dataclasses import replace
from functools import cache
from typing import Any

from acmevault.adapters.aws.metrics import PowertoolsMetrics
from acmevault.app.renewal import work
from acmevault.app.services import Services
from acmevault.composition.config import settings
from acmevault.composition.services import queue, services
from acmevault.domain.issue_message import parse_message
from acmevault.entrypoints.runtime import deadline, lambda_logger
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = lambda_logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def _services() -> Services:
    return replace(services(), metrics=PowertoolsMetrics(metrics, settings().per_certificate_metrics))


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    outcome = work(parse_message(record.body), _services(), deadline(lambda_context), queue())
    logger.info("message worked", extra={"outcome": outcome})


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event, record_handler, processor, context)
