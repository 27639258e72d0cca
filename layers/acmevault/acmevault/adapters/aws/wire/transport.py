"""One AWS request: signed, sent over a kept-alive connection, retried as botocore's standard mode does.

Retries (``MAX_ATTEMPTS`` sends in all), as botocore 1.44's standard mode: a connection that fails or
drops, an answer of 500, 502, 503 or 504, the transient error codes, the throttling error codes (and a
429), and the errors botocore's models mark retryable for these operations. The wait before retry N
is random, up to ``2**(N-1)`` times 1 s after throttling and 50 ms after anything else (25 ms for
DynamoDB), never more than 20 s, raised to what ``x-amz-retry-after`` asks (by at most 5 s). Each
client (service, region and credentials, as botocore has one quota per client object) has a retry
quota of 500: a throttling retry costs 5, any other 14, and a success gives back what its last retry
took, or 1.

What is not retried is raised as botocore raises it, so callers know one set of errors:
``AwsClientError`` (a ``botocore.exceptions.ClientError`` with the same ``response``),
``EndpointConnectionError``, ``ConnectionClosedError`` and ``ReadTimeoutError``. botocore.exceptions
is a small module; the rest of botocore is not imported.

Kept-alive connections are pooled per host for the whole process (each serves one request at a
time). ``HOOKS`` may answer a request instead of the network, as botocore's before-send event lets a
caller: the fault suite injects AWS's throttling, failures and dropped connections there, and the
retries above run for real.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from acmevault.adapters.aws.wire import credentials as credential_source
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.endpoints import Endpoint
from acmevault.adapters.aws.wire.signing import canonical_query, sign

MAX_ATTEMPTS = 6  # the first send and five retries: botocore's standard mode with max_attempts=5
MAX_BACKOFF = 20.0  # seconds
THROTTLING_SCALE = 1.0  # seconds: the first retry's longest wait after throttling ...
TRANSIENT_SCALE = {"dynamodb": 0.025}  # ... and after anything else (botocore's per-service scale)
DEFAULT_TRANSIENT_SCALE = 0.05
RETRY_AFTER_MAX_ADDITIONAL = 5.0  # seconds x-amz-retry-after may add to the wait
RETRY_COST = 14
THROTTLING_RETRY_COST = 5
NO_RETRY_INCREMENT = 1
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
USER_AGENT = "acmevault/0.1"
THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
TRANSIENT_CODES = frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
THROTTLING_STATUS = 429  # botocore: when the code is none the operation models; here any 429 (no models here)
# (service, code): what botocore's models (and its special cases) mark retryable for the operations acmevault calls
MODELED_TRANSIENT = frozenset({("dynamodb", "ReplicatedWriteConflictException"), ("sts", "IDPCommunicationError")})


@dataclass(frozen=True)
class Request:
    """One operation's HTTP request before signing. ``path`` is percent-encoded, relative to the endpoint."""

    operation: str  # the API's name (GetItem, PutObject): errors and hooks name it
    method: str = "POST"
    path: str = "/"
    query: Sequence[tuple[str, str]] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    """What AWS answered: status, headers (names in lower case) and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class AwsClientError(ClientError):
    """AWS refused or failed the request: botocore's ClientError, with the response it would carry."""

    def __init__(self, operation: str, code: str, message: str, response: Response, attempts: int = 1) -> None:
        super().__init__(
            {
                "Error": {"Code": code, "Message": message},
                "ResponseMetadata": {
                    "HTTPStatusCode": response.status,
                    "HTTPHeaders": dict(response.headers),
                    "RequestId": response.headers.get("x-amzn-requestid", response.headers.get("x-amz-request-id", "")),
                    "HostId": response.headers.get("x-amz-id-2", ""),
                    "RetryAttempts": attempts - 1,
                },
            },
            operation,
        )
        self.answer = response  # the whole answer: a client may read more of the error document


ErrorParser = Callable[[Response], tuple[str, str]]  # an error answer -> (code, message)
Hook = Callable[[Endpoint, Request, int], "Response | BaseException | None"]
HOOKS: list[Hook] = []  # (endpoint, request, attempt from 1) -> an answer, an error to raise, or None


class _Quota:
    """botocore's retry quota: a client's retries stop when many have failed recently."""

    def __init__(self, capacity: int = 500) -> None:
        self._capacity = self._available = capacity
        self._lock = threading.Lock()

    def take(self, cost: int) -> bool:
        with self._lock:
            if self._available < cost:
                return False
            self._available -= cost
            return True

    def give(self, amount: int) -> None:
        with self._lock:
            self._available = min(self._capacity, self._available + amount)


_quotas: dict[tuple[str, str, str | None], _Quota] = {}
_quotas_lock = threading.Lock()
# Idle kept-alive connections per (TLS, host), shared by the process's threads (a connection serves one
# request at a time): a warm container's issuances and their parallel S3 puts reuse them instead of
# opening (and on AWS, TLS-handshaking) new ones, as botocore's per-client pool does.
_idle: dict[tuple[bool, str], list[http.client.HTTPConnection]] = {}
_idle_lock = threading.Lock()
MAX_IDLE_PER_HOST = 10  # botocore's max_pool_connections


def quota_for(endpoint: Endpoint, credentials: Credentials | None = None) -> _Quota:
    """The retry quota of the client sending to ``endpoint`` with ``credentials`` (None: the process's own)."""
    key = (endpoint.service, endpoint.region, credentials.access_key if credentials else None)
    with _quotas_lock:
        return _quotas.setdefault(key, _Quota())


@cache
def _tls() -> ssl.SSLContext:
    bundle = os.environ.get("AWS_CA_BUNDLE")
    if not bundle:
        try:
            import certifi  # botocore's default trust store

            bundle = certifi.where()
        except ImportError:
            bundle = None
    return ssl.create_default_context(cafile=bundle)


def _new_connection(endpoint: Endpoint) -> http.client.HTTPConnection:
    if endpoint.secure:
        return http.client.HTTPSConnection(endpoint.hostname, endpoint.port, timeout=CONNECT_TIMEOUT, context=_tls())
    return http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=CONNECT_TIMEOUT)


def _take(endpoint: Endpoint, fresh: bool) -> http.client.HTTPConnection:
    """An idle kept-alive connection to the endpoint's host, or a new one (always, with ``fresh``)."""
    if not fresh:
        with _idle_lock:
            idle = _idle.get((endpoint.secure, endpoint.host))
            if idle:
                return idle.pop()
    return _new_connection(endpoint)


def _give(endpoint: Endpoint, connection: http.client.HTTPConnection) -> None:
    """Keep a connection whose exchange ended cleanly for the next request to its host."""
    with _idle_lock:
        idle = _idle.setdefault((endpoint.secure, endpoint.host), [])
        if len(idle) < MAX_IDLE_PER_HOST:
            idle.append(connection)
            return
    connection.close()


def close_connections() -> None:
    """Close the kept-alive connections (tests that restart the local stack)."""
    with _idle_lock:
        idle = [c for connections in _idle.values() for c in connections]
        _idle.clear()
    for connection in idle:
        connection.close()


def _exchange(endpoint: Endpoint, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
    url = f"{'https' if endpoint.secure else 'http'}://{endpoint.host}"
    for fresh in (False, True):  # a kept-alive connection the server closed meanwhile: once more, anew
        connection = _take(endpoint, fresh)
        reused = connection.sock is not None
        try:
            if connection.sock is None:
                connection.connect()
                if connection.sock is not None:
                    connection.sock.settimeout(READ_TIMEOUT)
            connection.request(method, target, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
        except TimeoutError as error:
            connected = connection.sock is not None  # the timeout came while reading, not connecting
            connection.close()
            if not connected:
                raise EndpointConnectionError(endpoint_url=url, error=error) from None
            raise ReadTimeoutError(endpoint_url=url, error=error) from None
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
            connection.close()
            if reused and not fresh:
                continue
            raise ConnectionClosedError(endpoint_url=url, error=error) from None
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            raise EndpointConnectionError(endpoint_url=url, error=error) from None
        if answer.will_close:
            connection.close()
        else:
            _give(endpoint, connection)
        return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
    raise AssertionError("the loop returns or raises")


def _generic_error(response: Response) -> tuple[str, str] | None:
    """A 5xx answer that is not AWS's own (empty, or a proxy's HTML page): its status, as botocore names it."""
    body = response.body.strip()
    if response.status >= 500 and (not body or body.startswith(b"<html>")):
        return str(response.status), http.client.responses.get(response.status, "")
    return None


def _retryable(service: str, code: str, status: int) -> bool | None:
    """Whether an error answer is retried as throttling (True) or as transient (False); None: not retried."""
    if code in THROTTLING or status == THROTTLING_STATUS:
        return True
    if code in TRANSIENT_CODES or status in TRANSIENT_STATUS or (service, code) in MODELED_TRANSIENT:
        return False
    return None


def _delay(attempt: int, service: str, throttling: bool, retry_after: str | None = None) -> float:
    """botocore's wait before retrying after ``attempt`` (from 1): exponential, with jitter."""
    scale = THROTTLING_SCALE if throttling else TRANSIENT_SCALE.get(service, DEFAULT_TRANSIENT_SCALE)
    delay = random.random() * min(scale * 2.0 ** (attempt - 1), MAX_BACKOFF)  # noqa: S311 - jitter, not a secret
    if retry_after is None:
        return delay
    try:
        asked = int(retry_after) / 1000.0  # milliseconds
    except (ValueError, OverflowError):
        return delay
    if asked < 0:
        return delay
    return max(delay, min(asked, delay + RETRY_AFTER_MAX_ADDITIONAL))


def send(
    endpoint: Endpoint,
    request: Request,
    parse_error: ErrorParser,
    *,
    credentials: Credentials | None = None,
    sign_payload_header: bool = False,
) -> Response:
    """Send ``request`` until it succeeds or is not retried; raise what the last attempt ended with.
    ``sign_payload_header``: S3's rules (``x-amz-content-sha256`` sent, the path not encoded twice)."""
    payload_hash = hashlib.sha256(request.body).hexdigest()
    target = endpoint.base_path + request.path
    query = canonical_query(request.query)
    quota = quota_for(endpoint, credentials)
    acquired = 0  # what the last retry took from the quota: a success gives it back
    for attempt in range(1, MAX_ATTEMPTS + 1):
        outcome: Response | BaseException | None = None
        for hook in HOOKS:
            outcome = hook(endpoint, request, attempt)
            if outcome is not None:
                break
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            if outcome is None:
                headers = {"Host": endpoint.host, "User-Agent": USER_AGENT, **request.headers}
                if sign_payload_header:
                    headers["X-Amz-Content-SHA256"] = payload_hash
                headers.update(
                    sign(
                        method=request.method,
                        path=target,
                        query=request.query,
                        headers=headers,
                        payload_hash=payload_hash,
                        credentials=credentials or credential_source.current(),
                        region=endpoint.region,
                        service=endpoint.service,
                        now=datetime.now(UTC),
                        double_encode=not sign_payload_header,
                    )
                )
                headers["Content-Length"] = str(len(request.body))
                outcome = _exchange(
                    endpoint, request.method, target + ("?" + query if query else ""), headers, request.body
                )
        except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError):
            if attempt == MAX_ATTEMPTS or not quota.take(RETRY_COST):
                raise
            acquired = RETRY_COST
            _backoff(_delay(attempt, endpoint.service, throttling=False))
            continue
        if outcome.status < 300:
            quota.give(acquired or NO_RETRY_INCREMENT)
            return outcome
        code, message = _generic_error(outcome) or parse_error(outcome)
        throttling = _retryable(endpoint.service, code, outcome.status)
        cost = THROTTLING_RETRY_COST if throttling else RETRY_COST
        if throttling is None or attempt == MAX_ATTEMPTS or not quota.take(cost):
            raise AwsClientError(request.operation, code, message, outcome, attempt)
        acquired = cost
        _backoff(_delay(attempt, endpoint.service, throttling, outcome.headers.get("x-amz-retry-after")))
    raise AssertionError("the loop returns or raises")


def _backoff(seconds: float) -> None:
    time.sleep(seconds)
