"""Sending and retrying as botocore does (wire/transport.py), and credentials that never show.

Which answers are retried is botocore's standard retry mode's decision, asked for each operation we
offer; how many sends a call makes, and what it raises at the end, is what a botocore client with
acmevault's former configuration (standard mode, max_attempts=5) makes and raises for the same answers.
A small HTTP server on 127.0.0.1 drops connections for real: one it kept alive and closed meanwhile is
opened again within the same attempt; one that drops every request is retried and raised. No waiting:
the backoff is replaced by a recorder.
"""

from __future__ import annotations

import http.server
import json
import socket
import struct
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from acmevault.adapters.aws.wire import credentials, transport
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.json_protocol import JsonClient
from acmevault.adapters.aws.wire.transport import AwsClientError, Response
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.retries.standard import RetryContext, StandardRetryConditions, ThrottledRetryableChecker

from tests.unit.aws_wire_reference import (
    ACCESS_KEY,
    SECRET_KEY,
    answering,
    botocore_call,
    isolate,
    model,
    our_call,
    session,
)

OPERATIONS = {
    "dynamodb": ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"],
    "secretsmanager": ["GetSecretValue", "CreateSecret", "PutSecretValue", "UpdateSecretVersionStage"],
    "acm": ["ImportCertificate", "DeleteCertificate", "AddTagsToCertificate"],
    "kms": ["Encrypt", "Decrypt"],
    "events": ["PutEvents"],
    "sqs": ["SendMessage", "SendMessageBatch"],
    "sts": ["AssumeRole"],
    "sns": ["Publish"],
    "cloudformation": ["DescribeStacks"],
    "route53": ["ListHostedZones", "ChangeResourceRecordSets", "GetChange"],
    "s3": ["PutObject", "GetObject", "ListObjectVersions"],
}
COMMON_CODES = [
    *ThrottledRetryableChecker._THROTTLED_ERROR_CODES,
    "RequestTimeout",
    "RequestTimeoutException",
    "ValidationException",
    "AccessDenied",
    "AccessDeniedException",
    "InternalError",
    "ServiceUnavailable",
    "400",
    "",
]
THROTTLED = Response(400, {}, b'{"__type":"ThrottlingException","message":"Rate exceeded"}')
GET_ITEM = {"TableName": "t", "Key": {"pk": {"S": "k"}}}
TEMPORARY = Credentials("ASIAENVIRONMENT", "the-env-secret/key+", "the-env-session-token==")


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """No backoff waits (ours recorded), a full retry quota, and no configuration of this machine."""
    isolate(monkeypatch)
    waits: list[float] = []
    monkeypatch.setattr(transport, "_backoff", waits.append)
    monkeypatch.setattr(transport, "_quotas", {})
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda seconds: None)  # botocore's backoff
    return waits


@pytest.mark.parametrize("service", sorted(OPERATIONS))
def test_what_is_retried_is_what_botocore_retries(service: str) -> None:
    checker = StandardRetryConditions(max_attempts=transport.MAX_ATTEMPTS)
    for name in OPERATIONS[service]:
        operation = model(service).operation_model(name)
        modeled = [e.metadata.get("error", {}).get("code") or e.name for e in operation.error_shapes]
        for code in [*COMMON_CODES, *modeled]:
            for status in (400, 403, 404, 429, 500, 501, 502, 503, 504):
                if status == 429 and code in modeled:
                    continue  # botocore: the operation's model decides; AWS answers none of these with a 429
                context = RetryContext(
                    1, operation, {"Error": {"Code": code}}, AWSResponse("https://x/", status, {}, None)
                )
                expected = checker.is_retryable(context)
                retried = transport._retryable(service, code or str(status), status) is not None
                assert retried == expected, (name, code, status)


def _sends(answers: list[Response | BaseException]) -> tuple[list[Any], Any, list[Any], Any]:
    """Our GetItem's and botocore's (acmevault's former botocore configuration) for the same answers:
    (our sends, our outcome, botocore's sends, botocore's outcome)."""

    def pick(index: int) -> Response | BaseException:
        return answers[min(index, len(answers)) - 1]

    with answering(lambda endpoint, request, attempt: pick(attempt)) as seen:
        try:
            ours: Any = JsonClient("dynamodb", "us-east-1", TEMPORARY).get_item(**GET_ITEM)
        except (ClientError, ConnectionClosedError) as error:
            ours = error
    client = session().create_client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )
    sent: list[Any] = []

    def before_send(request: Any, **_: Any) -> Any:
        sent.append(request)
        found = pick(len(sent))
        if isinstance(found, BaseException):
            raise found
        return AWSResponse(request.url, found.status, dict(found.headers), _Raw(found.body))

    client.meta.events.register_first("before-send", before_send)
    try:
        theirs: Any = client.get_item(**GET_ITEM)
    except (ClientError, ConnectionClosedError) as error:
        theirs = error
    return seen, ours, sent, theirs


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


DROPPED = ConnectionClosedError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        ([THROTTLED], "ThrottlingException"),
        ([Response(500, {}, b'{"__type":"InternalServerError","message":"x"}')], "InternalServerError"),
        ([Response(503, {}, b"")], "503"),
        ([Response(429, {}, b"")], "429"),
        ([Response(400, {}, b'{"__type":"ValidationException","message":"bad key"}')], "ValidationException"),
        ([DROPPED], None),
        ([THROTTLED, DROPPED, Response(200, {}, b'{"Item":{"pk":{"S":"k"}}}')], "ok"),
    ],
    ids=["throttled", "500", "503-empty", "429-empty", "400-not-retried", "dropped", "recovers"],
)
def test_sends_and_the_final_outcome_are_botocores(waits: list[float], answers: list[Any], code: str | None) -> None:
    seen, ours, sent, theirs = _sends(answers)
    assert len(seen) == len(sent)
    assert [attempt for _, _, attempt in seen] == list(range(1, len(seen) + 1))
    assert len(waits) == len(seen) - 1  # a wait before each retry (how long: test_transport_retries.py)
    assert type(ours) is type(theirs) or (isinstance(ours, AwsClientError) and isinstance(theirs, ClientError))
    if code == "ok":
        assert ours == {"Item": {"pk": {"S": "k"}}} and theirs["Item"] == ours["Item"]
    elif code is None:
        assert len(seen) == transport.MAX_ATTEMPTS
    else:
        assert ours.response["Error"]["Code"] == theirs.response["Error"]["Code"] == code
        retries = [e.response["ResponseMetadata"]["RetryAttempts"] for e in (ours, theirs)]
        assert retries == [len(seen) - 1] * 2
        assert len(seen) == (1 if code == "ValidationException" else transport.MAX_ATTEMPTS)


# -- a real HTTP server on 127.0.0.1 ------------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.actions: list[str] = []  # per request: "ok", "ok-then-close", "drop", "500"
        self.connections = 0
        self.requests: list[dict[str, str]] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append(dict(self.headers))
        action = self.server.actions.pop(0) if self.server.actions else "ok"
        if action == "hang":  # no answer within the client's read timeout
            threading.Event().wait(0.5)  # not time.sleep: the waits fixture makes that a no-op
            self.close_connection = True
            return
        if action == "drop":  # no answer: the connection is closed at once (RST)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        status, body = (500, b'{"__type":"InternalFailure"}') if action == "500" else (200, b"{}")
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = action == "ok-then-close"  # kept alive as far as the client knows

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    running = _Server()
    thread = threading.Thread(target=running.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{running.server_address[1]}")
    try:
        yield running
    finally:
        transport.close_connections()
        running.shutdown()
        running.server_close()
        thread.join()


def test_a_kept_alive_connection_the_server_closed_is_opened_again(server: _Server, waits: list[float]) -> None:
    dynamodb = JsonClient("dynamodb", "us-east-1", TEMPORARY)
    server.actions = ["ok", "ok-then-close", "ok"]
    for _ in range(3):
        assert dynamodb.get_item(**GET_ITEM) == {}
    assert (len(server.requests), server.connections, waits) == (3, 2, [])


def test_a_server_that_drops_every_request_is_retried_then_raised(server: _Server, waits: list[float]) -> None:
    server.actions = ["drop"] * transport.MAX_ATTEMPTS
    with pytest.raises(ConnectionClosedError) as dropped:
        JsonClient("dynamodb", "us-east-1", TEMPORARY).get_item(**GET_ITEM)
    assert (len(server.requests), server.connections) == (transport.MAX_ATTEMPTS, transport.MAX_ATTEMPTS)
    assert len(waits) == transport.MAX_ATTEMPTS - 1
    assert "127.0.0.1" in str(dropped.value)
    server.actions = ["drop", "500"]  # and one that recovers
    assert JsonClient("dynamodb", "us-east-1", TEMPORARY).get_item(**GET_ITEM) == {}
    assert len(server.requests) == transport.MAX_ATTEMPTS + 3


def test_threads_share_the_kept_alive_connections(server: _Server) -> None:
    # a warm container's parallel S3 puts run in a new worker pool each time: they reuse the connections
    dynamodb = JsonClient("dynamodb", "us-east-1", TEMPORARY)
    for _ in range(3):
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(lambda _: dynamodb.get_item(**GET_ITEM), range(4))) == [{}] * 4
    assert len(server.requests) == 12
    assert server.connections <= 4  # at most one per request in flight at once, never one per thread


def test_an_answer_that_does_not_come_is_a_read_timeout(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "READ_TIMEOUT", 0.2)
    monkeypatch.setattr(transport, "MAX_ATTEMPTS", 1)
    server.actions = ["hang"]
    with pytest.raises(ReadTimeoutError):
        JsonClient("dynamodb", "us-east-1", TEMPORARY).get_item(**GET_ITEM)


def _credential(request: dict[str, str]) -> tuple[str, str | None]:
    headers = {k.lower(): v for k, v in request.items()}
    return headers["authorization"].split("Credential=")[1].split("/")[0], headers.get("x-amz-security-token")


def test_credentials_come_from_the_environment_unless_given(server: _Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEMPORARY.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEMPORARY.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", str(TEMPORARY.token))
    JsonClient("dynamodb", "us-east-1").get_item(**GET_ITEM)
    JsonClient("dynamodb", "us-east-1", Credentials("AKIAGIVEN", "given-secret")).get_item(**GET_ITEM)
    assert [_credential(r) for r in server.requests] == [(TEMPORARY.access_key, TEMPORARY.token), ("AKIAGIVEN", None)]
    assert credentials.current() == TEMPORARY


def test_secrets_never_show_in_a_repr_or_an_error(server: _Server) -> None:
    secrets = (TEMPORARY.secret_key, str(TEMPORARY.token))
    shown = [repr(TEMPORARY), str(TEMPORARY)]
    server.actions = ["500"] * transport.MAX_ATTEMPTS + ["drop"] * transport.MAX_ATTEMPTS
    for _ in range(2):
        transport.close_connections()  # each call on a new connection: every drop is one attempt's
        with pytest.raises((AwsClientError, ConnectionClosedError)) as failed:
            JsonClient("dynamodb", "us-east-1", TEMPORARY).get_item(**GET_ITEM)
        shown += [str(failed.value), repr(failed.value), repr(getattr(failed.value, "response", ""))]
    assert not [secret for secret in secrets for text in shown if secret in text]
    assert TEMPORARY.access_key in shown[0]
    # the request did carry them: the session token as sent, the secret only through the signature
    headers = " ".join(str(r) for r in server.requests)
    assert str(TEMPORARY.token) in headers and TEMPORARY.secret_key not in headers


def test_an_answer_from_a_hook_is_botocores_answer_for_it() -> None:
    """Sanity of the reference itself: both clients see the answer given, not a network."""
    answer = Response(200, {}, json.dumps({"Item": {"pk": {"S": "é"}}}).encode())
    assert our_call("dynamodb", "get_item", GET_ITEM, answer)[1] == {"Item": {"pk": {"S": "é"}}}
    assert botocore_call("dynamodb", "get_item", GET_ITEM, answer)[1]["Item"] == {"pk": {"S": "é"}}
