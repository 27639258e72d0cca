"""EventBridge schedule → queue one issue message per certificate that is due."""

from datetime import UTC, datetime
from typing import Any

from acmevault.renewal import queue_due
from acmevault.runtime import lambda_logger
from acmevault.services import queue, services
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = lambda_logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    return {"queued": queue_due(datetime.now(UTC), services().certificates, queue())}
