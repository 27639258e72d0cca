"""The one place AWS clients are built: on first use, once per process, per service and region.

The clients are acmevault's own (``adapters/aws/wire``): botocore's method names, arguments, answers
and exceptions for the operations acmevault calls, without loading botocore's service models, which
cost every process about 0.3 s of CPU and 45 MB before its first request. AWS_ENDPOINT_URL (and
AWS_ENDPOINT_URL_<SERVICE>) is read as botocore reads it, which is how the local stack (moto) is
reached: no endpoint or test switch is passed here.

Each service acmevault calls has an overload naming its client class from the boto3 stubs
(mypy_boto3_*, development dependencies only: imported for the type checker, never at run time), so
every call and response is type-checked as botocore's; a service without an overload does not
type-check, and an operation the client does not offer fails at its first call (AttributeError).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    EndpointConnectionError,
    NoRegionError,
)

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


_GLOBAL = frozenset({"route53", "sts", "s3"})  # services botocore gives a client without a region


def configured_region() -> str | None:
    """The region of the AWS configuration (environment, profile), as a client without one would use."""
    from acmevault.adapters.aws.wire.credentials import configured_region as configured

    return configured()


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
    """The client for ``service`` in ``region`` (None: the configured region), built at its first use."""
    return _build(service, region)


def _build(service: str, region: str | None, credentials: Any = None) -> Any:
    from acmevault.adapters.aws.wire import json_protocol

    # Without a region, botocore still builds the clients of its global endpoints (signed for us-east-1)
    region = region or configured_region() or ("us-east-1" if service in _GLOBAL else None)
    if region is None:
        raise NoRegionError()
    if service in json_protocol.SERVICES:
        return json_protocol.JsonClient(service, region, credentials)
    if service in ("sts", "sns", "cloudformation"):
        from acmevault.adapters.aws.wire.query_protocol import QueryClient

        return QueryClient(service, region, credentials)
    if service == "route53":
        from acmevault.adapters.aws.wire.route53 import Route53Client

        return Route53Client(region, credentials)
    if service == "s3":
        from acmevault.adapters.aws.wire.s3 import S3Client

        return S3Client(region, credentials)
    raise ValueError(f"acmevault has no client for the AWS service {service!r}")


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
        from acmevault.adapters.aws.wire.credentials import Credentials

        built: Route53Client = _build(
            service,
            region,
            Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]),
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
