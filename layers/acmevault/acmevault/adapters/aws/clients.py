"""The one place boto3 clients are built: once per container, per service and region.

boto3 reads AWS_ENDPOINT_URL itself, which is how the local stack (moto) is reached:
no endpoint or test switch is passed here.

Each service acmevault calls has an overload naming its client class from the boto3 stubs
(mypy_boto3_*, development dependencies only: imported for the type checker, never at run time),
so every call and response is type-checked; a service without an overload does not type-check.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, EndpointConnectionError

from acmevault.domain.errors import AcmeVaultError, AwsError, AwsUnavailable

if TYPE_CHECKING:
    from mypy_boto3_acm import ACMClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

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


@overload
def client(service: Literal["acm"], region: str | None = None) -> ACMClient: ...
@overload
def client(service: Literal["cloudformation"], region: str | None = None) -> CloudFormationClient: ...
@overload
def client(service: Literal["dynamodb"], region: str | None = None) -> DynamoDBClient: ...
@overload
def client(service: Literal["events"], region: str | None = None) -> EventBridgeClient: ...
@overload
def client(service: Literal["kms"], region: str | None = None) -> KMSClient: ...
@overload
def client(service: Literal["route53"], region: str | None = None) -> Route53Client: ...
@overload
def client(service: Literal["s3"], region: str | None = None) -> S3Client: ...
@overload
def client(service: Literal["secretsmanager"], region: str | None = None) -> SecretsManagerClient: ...
@overload
def client(service: Literal["sns"], region: str | None = None) -> SNSClient: ...
@overload
def client(service: Literal["sqs"], region: str | None = None) -> SQSClient: ...
@overload
def client(service: Literal["sts"], region: str | None = None) -> STSClient: ...
@cache
def client(service: str, region: str | None = None) -> Any:
    """The client for ``service`` in ``region`` (None: the configured region), one per container."""
    return _session().client(service, region_name=region, config=_CONFIG)  # type: ignore[call-overload]


ROLE_SESSION_NAME = "acmevault"  # what the other account's CloudTrail shows
_RENEW_BEFORE_EXPIRY = 300.0  # seconds: a client is never handed out with credentials about to lapse
_assumed: dict[tuple[str, str, str | None], tuple[Route53Client, float]] = {}
_assumed_lock = threading.Lock()


def assumed_client(service: Literal["route53"], role_arn: str, region: str | None = None) -> Route53Client:
    """A client acting as ``role_arn`` (STS AssumeRole, e.g. Route 53 zones in another account), built
    again shortly before its credentials expire. Raises botocore's ClientError when the role cannot be
    assumed: the caller says what it needed the role for."""
    key = (service, role_arn, region)
    with _assumed_lock:
        cached = _assumed.get(key)
        if cached is not None and cached[1] - time.time() > _RENEW_BEFORE_EXPIRY:
            return cached[0]
        assumed = client("sts", region).assume_role(RoleArn=role_arn, RoleSessionName=ROLE_SESSION_NAME)
        credentials = assumed["Credentials"]
        built = _session().client(
            service,
            region_name=region,
            config=_CONFIG,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        _assumed[key] = (built, credentials["Expiration"].timestamp())
        return built


def forget_assumed_clients() -> None:
    """Drop the clients built for assumed roles (tests that point AWS_ENDPOINT_URL elsewhere)."""
    with _assumed_lock:
        _assumed.clear()


def error_code(error: ClientError) -> str:
    """The error code AWS answered with (``ResourceNotFoundException``, ...); "" when there is none."""
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
