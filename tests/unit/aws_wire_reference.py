"""botocore as the reference for acmevault's own AWS client (adapters/aws/wire), without a network.

``botocore_call`` makes a call through a real botocore client (its models, serializers, handlers, signer,
retries and parsers) and stops it at the last step before the network (botocore's ``before-send`` event):
what botocore would send, and, given a raw AWS answer, what botocore would return or raise for it.
``our_call`` makes the same call through acmevault's client, its requests recorded by a transport hook
(``transport.HOOKS``) that answers them with a canned answer instead of AWS.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.exceptions
import botocore.session
from acmevault.adapters.aws.wire import transport
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.endpoints import Endpoint
from acmevault.adapters.aws.wire.json_protocol import JsonClient
from acmevault.adapters.aws.wire.query_protocol import QueryClient
from acmevault.adapters.aws.wire.route53 import Route53Client
from acmevault.adapters.aws.wire.s3 import S3Client
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

ACCESS_KEY, SECRET_KEY = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
KEYS = Credentials(ACCESS_KEY, SECRET_KEY)
# Settings of this machine or of the local stack that would steer either client elsewhere.
STEERING = ("AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_PROFILE", "AWS_DEFAULT_REGION")


def isolate(monkeypatch: Any) -> None:
    """No profile, config file or endpoint of this machine (or of the local stack) in either client."""
    for name in list(os.environ):
        if name.startswith(STEERING):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@cache
def session() -> Any:
    """One botocore session: its models are loaded once. Its clients read the environment when made."""
    return botocore.session.get_session()


@cache
def model(service: str) -> Any:
    """botocore's service model."""
    return session().get_service_model(service)


@cache
def botocore_client(service: str, region: str = "us-east-1", attempts: int = 1) -> Any:
    """A botocore client with dummy keys; ``attempts`` sends at most (botocore's standard retry mode)."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts},
        # S3's optional checksums (sent by botocore by default, as an aws-chunked body with a trailer) off:
        # ours signs the body's SHA-256 instead, and the bodies are compared as they are.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return session().create_client(
        service, region_name=region, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, config=config
    )


@dataclass
class Sent:
    """One request as it would go on the wire (botocore's, or ours before signing)."""

    method: str
    host: str
    path: str  # percent-encoded, as sent
    query: list[tuple[str, str]]  # decoded, sorted
    headers: dict[str, str]  # names in lower case
    body: bytes


class _Stop(Exception):
    """Raised in botocore's before-send: the request is not sent."""


class _Raw:
    """A urllib3 response as botocore reads one (``stream`` for a parsed body, ``read`` for a streamed one)."""

    def __init__(self, body: bytes) -> None:
        self._body = io.BytesIO(body)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self._body.read()

    def read(self, amt: int | None = None) -> bytes:
        return self._body.read(amt)


def _query(query: str) -> list[tuple[str, str]]:
    return sorted(parse_qsl(query, keep_blank_values=True))


def botocore_call(
    service: str,
    method: str,
    params: dict[str, Any],
    answer: transport.Response | list[transport.Response] | None = None,
    *,
    region: str = "us-east-1",
    attempts: int = 1,
    paginate: bool = False,
    client: Any = None,
) -> tuple[list[Sent], Any]:
    """What botocore sends for ``method(**params)`` (each attempt), and what it returns (or the ClientError
    or other botocore error it raises) for ``answer`` (a list: one answer per send); without an answer,
    nothing is returned (None). ``paginate``: the pages of ``method``'s paginator, as a list. ``client``:
    this botocore client rather than one made (once) for the service, region and attempts."""
    client = client or botocore_client(service, region, attempts)
    sent: list[Sent] = []
    answers = answer if isinstance(answer, list) else [answer]

    def before_send(request: Any, **_: Any) -> Any:
        url = urlsplit(request.url)
        body = request.body or b""
        if hasattr(body, "read"):  # S3's body, as a file
            body = body.read()
            request.body.seek(0)
        body = body.encode() if isinstance(body, str) else body
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        sent.append(Sent(request.method, url.netloc, url.path, _query(url.query), headers, body))
        found = answers[min(len(sent), len(answers)) - 1]
        if found is None:
            raise _Stop
        return AWSResponse(request.url, found.status, dict(found.headers), _Raw(found.body))

    client.meta.events.register_first("before-send", before_send)
    try:
        if paginate:
            result: Any = list(client.get_paginator(method).paginate(**params))
        else:
            result = getattr(client, method)(**params)
    except _Stop:
        result = None
    except botocore.exceptions.ParamValidationError:
        raise
    except (ClientError, botocore.exceptions.BotoCoreError) as error:
        result = error
    finally:
        client.meta.events.unregister("before-send", before_send)
    return sent, result


def our_client(service: str, region: str = "us-east-1", credentials: Credentials | None = KEYS) -> Any:
    """acmevault's client for ``service``, as adapters/aws/clients.py builds it."""
    if service == "route53":
        return Route53Client(region, credentials)
    if service == "s3":
        return S3Client(region, credentials)
    if service in ("sts", "sns", "cloudformation"):
        return QueryClient(service, region, credentials)
    return JsonClient(service, region, credentials)


@contextmanager
def answering(answer: transport.Response | Callable[[Endpoint, transport.Request, int], Any]) -> Iterator[list[Any]]:
    """Our transport answers every request with ``answer`` (or what the function returns for it) instead of
    AWS; the list holds (endpoint, request, attempt) of each send."""
    seen: list[Any] = []

    def hook(endpoint: Endpoint, request: transport.Request, attempt: int) -> Any:
        seen.append((endpoint, request, attempt))
        return answer(endpoint, request, attempt) if callable(answer) else answer

    transport.HOOKS.insert(0, hook)
    try:
        yield seen
    finally:
        transport.HOOKS.remove(hook)


def our_call(
    service: str,
    method: str,
    params: dict[str, Any],
    answer: transport.Response | list[transport.Response],
    *,
    region: str = "us-east-1",
    paginate: bool = False,
) -> tuple[list[Sent], Any]:
    """What our client sends for ``method(**params)`` (before signing), and what it returns or raises;
    ``answer`` and ``paginate`` as for ``botocore_call``."""
    answers = answer if isinstance(answer, list) else [answer]
    with answering(lambda endpoint, request, attempt: answers[min(len(seen), len(answers)) - 1]) as seen:
        client = our_client(service, region)
        try:
            if paginate:
                result: Any = list(client.get_paginator(method).paginate(**params))
            else:
                result = getattr(client, method)(**params)
        except ClientError as error:
            result = error
    sent = [
        Sent(
            r.method,
            e.host,
            e.base_path + r.path,
            sorted(r.query),
            {k.lower(): v for k, v in r.headers.items()},
            r.body,
        )
        for e, r, _ in seen
    ]
    return sent, result
