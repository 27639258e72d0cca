"""The one place boto3 clients are built: once per container, per service and region.

boto3 reads AWS_ENDPOINT_URL itself, which is how the local stack (moto) is reached:
no endpoint or test switch is passed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, EndpointConnectionError

from ..errors import AcmeVaultError, AwsError, AwsUnavailable

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra="acmevault/0.1",
)
_THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "PriorRequestNotComplete",
}


@cache
def _session() -> boto3.session.Session:
    # One session per process: its loaders cache the endpoint and model data every client needs.
    return boto3.session.Session()


@cache
def client(service: str, region: str | None = None) -> Any:
    return _session().client(service, region_name=region, config=_CONFIG)  # type: ignore[call-overload]


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Map what botocore raises to AwsUnavailable (retry later) or AwsError (refused)."""
    try:
        yield
    except AcmeVaultError:
        raise
    except ClientError as error:
        code = error_code(error)
        message = error.response.get("Error", {}).get("Message", "")
        if code in _THROTTLING or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
            raise AwsUnavailable(f"{action}: AWS is throttling or failing ({code})") from None
        raise AwsError(f"{action}: {code}: {message}") from None
    except (EndpointConnectionError, ConnectionError) as error:
        raise AwsUnavailable(f"{action}: cannot reach AWS ({type(error).__name__})") from None
    except BotoCoreError as error:
        raise AwsError(f"{action}: {error}") from None
