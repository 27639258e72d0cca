"""EventBridge schedule → queue one issue message per certificate that is due."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.typing import LambdaContext

from acmevault.renewal import queue_due
from acmevault.runtime import lambda_logger
from acmevault.services import queue, services

logger = lambda_logger()


@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    return {"queued": queue_due(datetime.now(UTC), services().certificates, queue())}
