"""AWS faults through botocore's own event hooks on acmevault's clients, so botocore's retries run for real.

A `before-send.<service>.<Operation>` hook answers a matching send with what AWS sends when it
throttles or fails (the service's own error document and status), or drops the connection; botocore
parses it, and its standard retry mode (6 sends: the first and 5 retries, backoff with jitter, retry quota) decides what
happens next, as it would in Lambda. Nothing else about the clients changes.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError

# What each service answers (status, headers, body) when it throttles or fails.
ANSWERS: dict[tuple[str, str], tuple[int, dict[str, str], bytes]] = {
    ("acm", "throttle"): (
        400,
        {"Content-Type": "application/x-amz-json-1.1"},
        json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode(),
    ),
    ("acm", "5xx"): (
        500,
        {"Content-Type": "application/x-amz-json-1.1"},
        json.dumps({"__type": "InternalFailure", "message": "Internal failure"}).encode(),
    ),
    ("dynamodb", "throttle"): (
        400,
        {"Content-Type": "application/x-amz-json-1.0"},
        json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                "message": "Rate of requests exceeds the allowed throughput.",
            }
        ).encode(),
    ),
    ("dynamodb", "5xx"): (
        500,
        {"Content-Type": "application/x-amz-json-1.0"},
        json.dumps(
            {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "Internal server error"}
        ).encode(),
    ),
    ("s3", "throttle"): (
        503,
        {"Content-Type": "application/xml"},
        b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
    ),
    ("s3", "5xx"): (
        500,
        {"Content-Type": "application/xml"},
        b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>",
    ),
}
KINDS = ("throttle", "5xx", "reset")
EVENTS = {
    "acm": "before-send.acm.ImportCertificate",
    "s3": "before-send.s3.PutObject",
    "dynamodb": "before-send.dynamodb.UpdateItem",
}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class Rule:
    service: str  # acm | s3 | dynamodb (ImportCertificate, PutObject, UpdateItem)
    kind: str  # throttle | 5xx | reset
    match: Callable[[str], bool]  # on the request's URL and body
    skip: int = 0  # matching sends to let through first
    times: int | None = 1  # matching sends to fail after that; None: every one until cleared
    seen: int = 0
    failed: int = 0


class AwsFaults:
    def __init__(self, clients: list[Any]) -> None:
        self._clients = clients
        self._lock = threading.Lock()
        self.rules: list[Rule] = []
        self.injected: Counter[str] = Counter()  # "<service> <kind>" -> sends failed

    def install(self) -> AwsFaults:
        for client in self._clients:
            service = client.meta.service_model.service_id.hyphenize()
            client.meta.events.register(EVENTS[service], self._hook, unique_id=f"reliability-{service}")
        return self

    def uninstall(self) -> None:
        for client in self._clients:
            service = client.meta.service_model.service_id.hyphenize()
            client.meta.events.unregister(EVENTS[service], unique_id=f"reliability-{service}")

    def fail(self, service: str, kind: str, match: Callable[[str], bool], skip: int = 0, times: int | None = 1) -> Rule:
        rule = Rule(service, kind, match, skip, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules = []

    def total(self) -> int:
        return sum(self.injected.values())

    def _hook(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse | None:
        service = kwargs["event_name"].split(".")[1]
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        text = f"{request.url} {body[:4096].decode(errors='replace')}"
        with self._lock:
            for rule in self.rules:
                if rule.service != service or not rule.match(text):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip or (rule.times is not None and rule.failed >= rule.times):
                    continue
                rule.failed += 1
                self.injected[f"{service} {rule.kind}"] += 1
                kind = rule.kind
                break
            else:
                return None
        if kind == "reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        status, headers, payload = ANSWERS[(service, kind)]
        return AWSResponse(request.url, status, headers, _Raw(payload))
