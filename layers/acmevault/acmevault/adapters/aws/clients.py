"""The one place AWS clients are built: on first use, once per container, per service and region.

One botocore session for the process, and its clients, built only when a command or handler first
calls that service: botocore itself is imported then, not when this module is (``acmevault --help``
and a Lambda's init never pay for it). botocore rather than boto3: the clients are the same, and
boto3 adds only its own import (s3transfer among it) and S3 transfer methods nothing here uses.

botocore reads AWS_ENDPOINT_URL itself, which is how the local stack (moto) is reached:
no endpoint or test switch is passed here.

Each service acmevault calls has an overload naming its client class from the boto3 stubs
(mypy_boto3_*, development dependencies only: imported for the type checker, never at run time),
so every call and response is type-checked; a service without an overload does not type-check.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, overload

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    DataNotFoundError,
    EndpointConnectionError,
)

from acmevault.domain.errors import AcmeVaultError, AwsError, AwsUnavailable

if TYPE_CHECKING:
    from botocore.config import Config
    from botocore.session import Session
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


@cache
def _session() -> Session:
    # One session per process: its loaders cache the endpoint and model data every client needs.
    import botocore.session

    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    listing = loader.list_available_services
    loader.list_available_services = lambda type_name: _KnownServices(loader, type_name, listing)
    return session


_SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")  # a botocore data directory's name (s3, sso-oidc)


class _KnownServices(Sequence[str]):
    """What botocore's loader answers to "which services have a ``type_name`` model?", for the one question
    building a client asks it: is this service among them? That is answered from the service's own
    directory (``list_api_versions``, which the loader reads next anyway); the loader's own listing reads
    all ~440 service directories botocore ships, at every process's first client: 15 ms of CPU and 30 ms
    or more of directory reads here, in a Lambda cold start and every CLI command (botocore PR #3687
    drops it upstream). Anything else (the list itself, for an unknown service's error) is the listing."""

    def __init__(self, loader: Any, type_name: str, listing: Callable[[str], list[str]]) -> None:
        self._loader, self._type_name, self._listing = loader, type_name, listing
        self._names: list[str] | None = None

    def __contains__(self, service: object) -> bool:
        if not isinstance(service, str) or not _SERVICE_NAME.fullmatch(service):
            return service in self._all()  # no path of its own to look in: as botocore answers it
        try:
            return bool(self._loader.list_api_versions(service, self._type_name))
        except DataNotFoundError:
            return False

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def _all(self) -> list[str]:
        if self._names is None:
            self._names = self._listing(self._type_name)
        return self._names


def configured_region() -> str | None:
    """The region of the AWS configuration (environment, profile), as a client without one would use."""
    region = _session().get_config_variable("region")
    return str(region) if region else None


@cache
def _config() -> Config:
    from botocore.config import Config  # imports most of botocore: here, not at module import

    return Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=20,
        user_agent_extra="acmevault/0.1",
    )


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
    return _session().create_client(service, region_name=region, config=_config())


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
        built: Route53Client = _session().create_client(  # type: ignore[assignment]  # the stubs' BaseClient
            service,
            region_name=region,
            config=_config(),
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
