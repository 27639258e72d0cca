"""AWS faults through acmevault's own transport hooks (``transport.HOOKS``), so its retries run for real.

A hook answers a matching send of acmevault's clients (ACM ImportCertificate, S3 PutObject, DynamoDB
UpdateItem in one region) with what AWS sends when it throttles or fails (the service's own error
document and status), or drops the connection; the client parses it, and transport.send's retries
(6 sends: the first and 5 retries, backoff with jitter, retry quota, as botocore's standard mode)
decide what happens next, as they would in Lambda. Nothing else about the clients changes; the test's
own boto3 clients (``stack.aws``) never pass through the hooks.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from acmevault.adapters.aws.wire import transport
from acmevault.adapters.aws.wire.endpoints import Endpoint
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
OPERATIONS = {"acm": "ImportCertificate", "s3": "PutObject", "dynamodb": "UpdateItem"}  # the writes faulted


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
    """Rules for the writes of acmevault's clients in ``region``; a hook in transport.HOOKS while installed."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._lock = threading.Lock()
        self.rules: list[Rule] = []
        self.injected: Counter[str] = Counter()  # "<service> <kind>" -> sends failed

    def install(self) -> AwsFaults:
        transport.HOOKS.append(self._hook)
        return self

    def uninstall(self) -> None:
        transport.HOOKS.remove(self._hook)

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

    def _hook(
        self, endpoint: Endpoint, request: transport.Request, attempt: int
    ) -> transport.Response | BaseException | None:
        service = endpoint.service
        if endpoint.region != self.region or OPERATIONS.get(service) != request.operation:
            return None
        url = f"{'https' if endpoint.secure else 'http'}://{endpoint.host}{endpoint.base_path}{request.path}"
        text = f"{url} {request.body.decode(errors='replace')}"
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
        if kind == "reset":  # handed back, not raised: transport.send raises it where the network's would be
            return ConnectionClosedError(endpoint_url=url)
        status, headers, payload = ANSWERS[(service, kind)]
        return transport.Response(status, {k.lower(): v for k, v in headers.items()}, payload)
