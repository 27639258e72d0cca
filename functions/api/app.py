"""API Gateway (REST, AWS_IAM) → the acmevault HTTP API (routes and errors: acmevault.entrypoints.http_api)."""

from typing import Any

from acmevault.entrypoints.http_api import router
from acmevault.entrypoints.runtime import lambda_logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = lambda_logger()
# debug=False whatever POWERTOOLS_DEV says: debug mode prints whole events, and a body may hold an HMAC key.
app = APIGatewayRestResolver(debug=False)
app.include_router(router)


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says, for the same reason.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
