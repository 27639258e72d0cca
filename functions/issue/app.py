"""SQS → issue or renew one certificate per message; failed messages go back to the queue."""

from typing import Any

from acmevault.aws.queue import parse_message
from acmevault.issuance import issue_certificate
from acmevault.runtime import deadline, lambda_logger
from acmevault.services import services
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = lambda_logger()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, lambda_context: LambdaContext) -> None:
    issue_certificate(parse_message(record.body), services(), deadline(lambda_context))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event, record_handler, processor, context)
