"""API Gateway (REST, AWS_IAM) → the acmevault HTTP API (routes, their dependencies and errors:
acmevault.entrypoints.http)."""

from typing import Any

from acmevault.entrypoints.http.api import resolver
from acmevault.entrypoints.runtime import lambda_logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = lambda_logger()
# Every route's dependencies come from the composition root (acmevault.entrypoints.http.dependencies), built
# once per container at first use; a test swaps one in app.dependency_overrides.
app = resolver()


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: a body may hold an HMAC key.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
