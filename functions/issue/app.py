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
from acmevault.entrypoints.sqs import SqsRecord, partial_batch_response
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = lambda_logger()
metrics = Metrics()


@cache
def _services() -> Services:
    return replace(services(), metrics=PowertoolsMetrics(metrics, settings().per_certificate_metrics))


def record_handler(record: SqsRecord, lambda_context: LambdaContext) -> None:
    outcome = work(parse_message(record["body"]), _services(), deadline(lambda_context), queue())
    logger.info("message worked", extra={"outcome": outcome})


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # SQS partial batch responses as Powertools' BatchProcessor answers them, without its import (30 ms of init):
    # acmevault.entrypoints.sqs says why and what is the same.
    return partial_batch_response(event, record_handler, context)
