"""EventBridge schedule → queue one issue message per certificate that is due; alert on near-expiry."""

from dataclasses import asdict, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from acmevault.adapters.aws.metrics import PowertoolsMetrics
from acmevault.app.issuance import Services
from acmevault.app.renewal import sweep
from acmevault.composition.config import settings
from acmevault.composition.services import queue, services
from acmevault.entrypoints.runtime import lambda_logger
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = lambda_logger()
metrics = Metrics()


@cache
def _services() -> Services:
    return replace(services(), metrics=PowertoolsMetrics(metrics, settings().per_certificate_metrics))


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return asdict(sweep(datetime.now(UTC), _services(), queue()))
