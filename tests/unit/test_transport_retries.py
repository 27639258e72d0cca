"""transport.send retries as botocore's standard mode (max_attempts 5: six sends) does, checked against
botocore's own retry classes: which answers are retried, how long it waits (the longest wait: the
jitter's draw fixed at 1), and what is left of the client's retry quota.

AWS's answers come through ``transport.HOOKS``; botocore's decisions are made by its
StandardRetryConditions, ExponentialBackoff and RetryQuotaChecker on the same answers, parsed by its
own parser with the operation's model. Nothing is sent anywhere, nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import botocore.session
import pytest
from acmevault.adapters.aws.wire import json_protocol, query_protocol, route53, s3, transport
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.endpoints import Endpoint
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.parsers import create_parser
from botocore.retries.quota import RetryQuota
from botocore.retries.standard import (
    ExponentialBackoff,
    RetryContext,
    RetryEventAdapter,
    RetryQuotaChecker,
    StandardRetryConditions,
    ThrottlingErrorDetector,
)

URL = "https://aws.example"
OWN = Credentials("AKIDOWN", "secret")
PARSERS = {
    "json": json_protocol.parse_error,
    "query": query_protocol.parse_error,
    "rest-xml": route53.parse_error,
}
Outcome = tuple[int, dict[str, str], bytes] | BaseException


def json_error(status: int, code: str, message: str = "no", **headers: str) -> Outcome:
    return (
        status,
        {"content-type": "application/x-amz-json-1.0", **headers},
        json.dumps({"__type": code, "message": message}).encode(),
    )


def xml_error(status: int, code: str, message: str = "no", **headers: str) -> Outcome:
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "</ErrorResponse>"
    )
    return status, {"content-type": "text/xml", **headers}, body.encode()


def s3_error(status: int, code: str) -> Outcome:
    return (
        status,
        {"content-type": "application/xml"},
        f"<Error><Code>{code}</Code><Message>no</Message></Error>".encode(),
    )


OK_JSON: Outcome = (200, {"content-type": "application/x-amz-json-1.0"}, b"{}")
OK_XML: Outcome = (200, {"content-type": "text/xml"}, b"<R/>")
CLOSED = ConnectionClosedError(endpoint_url=URL)
REFUSED = EndpointConnectionError(endpoint_url=URL)
TIMEOUT = ReadTimeoutError(endpoint_url=URL)


@cache
def _model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def protocol(service: str) -> str:
    found = _model(service).protocol
    return "json" if found == "json" else "query" if found == "query" else "rest-xml"


def botocore_retries(service: str, operation: str, calls: Sequence[Sequence[Outcome]]) -> list[Any]:
    """What botocore's standard mode does with each call's answers, in order, on one client: for each call,
    (sends, the waits before its retries, whether it succeeded, the quota left after it)."""
    model = _model(service).operation_model(operation)
    adapter = RetryEventAdapter()
    detector = ThrottlingErrorDetector(adapter)
    quota = RetryQuota()
    checker = RetryQuotaChecker(quota, detector)
    conditions = StandardRetryConditions(max_attempts=transport.MAX_ATTEMPTS)
    backoff = ExponentialBackoff(random=lambda: 1.0, service_name=service, throttling_detector=detector)
    results = []
    for answers in calls:
        request_context: dict[str, Any] = {}
        waits: list[float] = []
        for attempt, outcome in enumerate(answers, 1):
            http = parsed = caught = None
            if isinstance(outcome, BaseException):
                caught = outcome
            else:
                status, headers, body = outcome
                raw = type("Raw", (), {"stream": lambda self, b=body, **kw: iter([b])})()
                http = AWSResponse(URL, status, headers, raw)
                parser = create_parser(_model(service).protocol)
                parsed = parser.parse({"status_code": status, "headers": headers, "body": body}, model.output_shape)
                if 200 <= status < 300:
                    checker.release_retry_quota(request_context, http)
                    results.append((attempt, waits, True, quota.available_capacity))
                    break
            context = RetryContext(attempt, model, parsed, http, caught, request_context)
            if conditions.is_retryable(context) and checker.acquire_retry_quota(context):
                waits.append(backoff.delay_amount(context))
                continue
            results.append((attempt, waits, False, quota.available_capacity))
            break
        else:
            raise AssertionError("a call's answers ran out before botocore stopped")
    return results


def acmevault_retries(
    monkeypatch: pytest.MonkeyPatch, service: str, operation: str, calls: Sequence[Sequence[Outcome]]
) -> list[Any]:
    """The same with transport.send, on one client (this endpoint, these credentials)."""
    endpoint = Endpoint(service, "us-east-1", True, f"{service}.us-east-1.amazonaws.com", "", False)
    queued: list[Outcome] = []
    waits: list[float] = []

    def answer(endpoint: Endpoint, request: transport.Request, attempt: int) -> Any:
        outcome = queued.pop(0)
        if isinstance(outcome, BaseException):
            return outcome
        status, headers, body = outcome
        return transport.Response(status, {k.lower(): v for k, v in headers.items()}, body)

    monkeypatch.setattr(transport, "HOOKS", [answer])
    monkeypatch.setattr(transport, "_quotas", {})
    monkeypatch.setattr(transport, "_backoff", waits.append)
    monkeypatch.setattr(transport.random, "random", lambda: 1.0)
    parse_error = s3.parse_error if service == "s3" else PARSERS[protocol(service)]
    results = []
    for answers in calls:
        queued[:] = list(answers)
        waits.clear()
        try:
            transport.send(endpoint, transport.Request(operation), parse_error, credentials=OWN)
            succeeded = True
        except (transport.AwsClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError):
            succeeded = False
        sends = len(answers) - len(queued)
        results.append((sends, list(waits), succeeded, transport.quota_for(endpoint, OWN)._available))
    return results


CASES = {
    # what the reliability suite injects
    "DynamoDB 5xx twice": ("dynamodb", "UpdateItem", [[json_error(500, "InternalServerError")] * 2 + [OK_JSON]]),
    "DynamoDB throttled on every send": ("dynamodb", "UpdateItem", [[json_error(400, "ThrottlingException")] * 6]),
    "DynamoDB 5xx on every send": ("dynamodb", "UpdateItem", [[json_error(500, "InternalServerError")] * 6]),
    "S3 SlowDown then 5xx then put": (
        "s3",
        "PutObject",
        [[s3_error(503, "SlowDown"), s3_error(500, "InternalError"), OK_XML]],
    ),
    "S3 5xx on every send": ("s3", "PutObject", [[s3_error(500, "InternalError")] * 6]),
    "ACM dropped connections": ("acm", "ImportCertificate", [[CLOSED, CLOSED, OK_JSON]]),
    "ACM throttled then 5xx": (
        "acm",
        "ImportCertificate",
        [[json_error(400, "ThrottlingException"), json_error(500, "InternalFailure"), OK_JSON]],
    ),
    # what is and is not retried
    "ACM refusal": ("acm", "ImportCertificate", [[json_error(400, "ValidationException")]]),
    "STS access denied": ("sts", "AssumeRole", [[xml_error(403, "AccessDenied")]]),
    "Route 53 throttling": ("route53", "ListHostedZones", [[xml_error(400, "Throttling"), OK_XML]]),
    "Route 53 PriorRequestNotComplete": (
        "route53",
        "ChangeResourceRecordSets",
        [[xml_error(400, "PriorRequestNotComplete"), OK_XML]],
    ),
    "Secrets Manager 503 and a read timeout": (
        "secretsmanager",
        "GetSecretValue",
        [[json_error(503, "ServiceUnavailable"), TIMEOUT, OK_JSON]],
    ),
    "KMS unreachable": ("kms", "Decrypt", [[REFUSED] * 6]),
    "KMS 429 of no modeled code": ("kms", "Encrypt", [[json_error(429, "TooManyRequests"), OK_JSON]]),
    "DynamoDB modeled retryable": (
        "dynamodb",
        "PutItem",
        [[json_error(400, "ReplicatedWriteConflictException"), OK_JSON]],
    ),
    "DynamoDB condition failed": ("dynamodb", "PutItem", [[json_error(400, "ConditionalCheckFailedException")]]),
    "SQS request timeout code": ("sqs", "SendMessage", [[json_error(400, "RequestTimeout"), OK_JSON]]),
    # x-amz-retry-after raises a wait (by at most 5 s) and never shortens one
    "retry-after within reach": (
        "dynamodb",
        "UpdateItem",
        [[json_error(400, "ThrottlingException", **{"x-amz-retry-after": "3000"}), OK_JSON]],
    ),
    "retry-after beyond reach": (
        "dynamodb",
        "UpdateItem",
        [[json_error(500, "InternalServerError", **{"x-amz-retry-after": "60000"}), OK_JSON]],
    ),
    "retry-after shorter": (
        "dynamodb",
        "UpdateItem",
        [[json_error(400, "ThrottlingException", **{"x-amz-retry-after": "1"}), OK_JSON]],
    ),
    "retry-after not a number": (
        "dynamodb",
        "UpdateItem",
        [[json_error(400, "ThrottlingException", **{"x-amz-retry-after": "soon"}), OK_JSON]],
    ),
    # the quota: a client whose calls keep failing stops retrying; successes give back
    "quota runs out": ("acm", "ImportCertificate", [[json_error(500, "InternalFailure")] * 6] * 9),
    "quota given back": (
        "acm",
        "ImportCertificate",
        [[json_error(500, "InternalFailure")] * 6] * 3
        + [[json_error(400, "ThrottlingException"), json_error(500, "InternalFailure"), OK_JSON], [OK_JSON]],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_retries_as_botocore(monkeypatch, case):
    service, operation, calls = CASES[case]
    assert acmevault_retries(monkeypatch, service, operation, calls) == botocore_retries(service, operation, calls)


def test_the_cases_cover_what_matters():
    """The comparison above is only as good as its cases: they include waits of both scales, a quota that
    ran out, a retry-after that raised a wait and calls that were not retried."""
    seen = {case: botocore_retries(*CASES[case][:2], CASES[case][2]) for case in CASES}
    assert seen["DynamoDB 5xx twice"] == [(3, [0.025, 0.05], True, 500 - 28 + 14)]
    assert seen["DynamoDB throttled on every send"] == [(6, [1.0, 2.0, 4.0, 8.0, 16.0], False, 500 - 25)]
    assert seen["S3 5xx on every send"][0][1] == [0.05, 0.1, 0.2, 0.4, 0.8]
    assert seen["ACM refusal"] == [(1, [], False, 500)]
    assert seen["retry-after within reach"][0][1] == [3.0]
    assert seen["retry-after beyond reach"][0][1] == [0.025 + 5]
    assert [sends for sends, *_ in seen["quota runs out"]] == [6] * 7 + [1, 1]  # 500 - 7 * 5 * 14 < 14


def test_each_client_has_its_own_quota(monkeypatch):
    # GIVEN DynamoDB failing until its client's quota is spent
    spent = acmevault_retries(monkeypatch, "dynamodb", "UpdateItem", [[json_error(500, "InternalServerError")] * 6] * 9)
    assert spent[-1][0] == 1
    # THEN S3's client, another service, still retries (the same credentials)
    endpoint = Endpoint("s3", "us-east-1", True, "s3.us-east-1.amazonaws.com", "", False)
    assert transport.quota_for(endpoint, OWN)._available == 500
    # AND a client of other credentials (an assumed role's) on DynamoDB too
    dynamodb = Endpoint("dynamodb", "us-east-1", True, "dynamodb.us-east-1.amazonaws.com", "", False)
    assert transport.quota_for(dynamodb, OWN)._available < 14
    assert transport.quota_for(dynamodb, Credentials("ASIAROLE", "s", "t"))._available == 500
