"""The services that speak AWS's JSON protocol: DynamoDB, Secrets Manager, ACM, KMS, EventBridge, SQS.

Every operation is a POST of a JSON document to the endpoint's root, the operation named in
``X-Amz-Target``. A client offers botocore's method names for the operations acmevault calls
(``get_item``, ``import_certificate``) with botocore's arguments and answers: binary values go out as
base64 and come back as bytes (DynamoDB's B and BS, KMS's blobs), timestamps go out as epoch seconds
and Secrets Manager's dates come back as datetimes. An idempotency token the caller leaves out
(Secrets Manager's ClientRequestToken) is made here, once per call, as botocore makes it: a retried
CreateSecret then finds its own secret rather than ResourceExistsException. An operation not listed
here is not offered: it fails loudly (AttributeError) rather than reaching AWS unchecked.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from acmevault.adapters.aws.wire import transport
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.endpoints import resolve
from acmevault.adapters.aws.wire.operations import Operations, Paginator


def _named(*methods: str) -> dict[str, str]:
    """botocore's method names and the operations they call (``get_item`` → ``GetItem``)."""
    return {m: m.title().replace("_", "") for m in methods}


# service -> (X-Amz-Target prefix, JSON version, {method: operation}, {paginated method: (input token, output token)})
SERVICES: dict[str, tuple[str, str, dict[str, str], dict[str, tuple[str, str]]]] = {
    "dynamodb": (
        "DynamoDB_20120810",
        "1.0",
        _named("get_item", "put_item", "update_item", "delete_item", "query"),
        {},
    ),
    "secretsmanager": (
        "secretsmanager",
        "1.1",
        _named(
            "get_secret_value",
            "create_secret",
            "list_secrets",
            "describe_secret",
            "put_secret_value",
            "update_secret_version_stage",
            "rotate_secret",
        ),
        {"list_secrets": ("NextToken", "NextToken")},
    ),
    "acm": (
        "CertificateManager",
        "1.1",
        _named("import_certificate", "add_tags_to_certificate", "remove_tags_from_certificate", "delete_certificate"),
        {},
    ),
    "kms": ("TrentService", "1.1", _named("encrypt", "decrypt"), {}),
    "events": ("AWSEvents", "1.1", _named("put_events"), {}),
    "sqs": ("AmazonSQS", "1.0", _named("send_message", "send_message_batch"), {}),
}
# service -> the members of its answers that are blobs (base64 on the wire, bytes in botocore's answer)
_BLOBS = {"kms": ("CiphertextBlob", "Plaintext", "CiphertextForRecipient"), "secretsmanager": ("SecretBinary",)}
# (service, operation) -> the member botocore fills with a new UUID when the caller leaves it out
_IDEMPOTENCY_TOKENS = {
    ("secretsmanager", "CreateSecret"): "ClientRequestToken",
    ("secretsmanager", "PutSecretValue"): "ClientRequestToken",
    ("secretsmanager", "RotateSecret"): "ClientRequestToken",
}
# Services that answer errors with their query-protocol codes (x-amzn-query-error) when asked, as botocore asks
_QUERY_COMPATIBLE = {"sqs"}


def _encode(value: Any) -> Any:
    """botocore's arguments as JSON: bytes as base64, datetimes as epoch seconds."""
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def _attribute_values(value: Any) -> Any:
    """DynamoDB's answer with binary attribute values (B, BS, also inside M and L) as bytes."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((kind, inner),) = value.items()
            if kind == "B" and isinstance(inner, str):
                return {"B": base64.b64decode(inner)}
            if kind == "BS" and isinstance(inner, list):
                return {"BS": [base64.b64decode(v) for v in inner]}
        return {k: _attribute_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_attribute_values(v) for v in value]
    return value


def _dates(value: Any) -> Any:
    """Secrets Manager's answer with its dates (CreatedDate, LastChangedDate, ...) as datetimes."""
    if isinstance(value, dict):
        return {
            k: datetime.fromtimestamp(v, UTC) if k.endswith("Date") and isinstance(v, int | float) else _dates(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_dates(v) for v in value]
    return value


def _decode(service: str, answer: dict[str, Any]) -> dict[str, Any]:
    if service == "dynamodb":
        decoded: dict[str, Any] = _attribute_values(answer)
        return decoded
    if service == "secretsmanager":
        answer = _dates(answer)
    blobs = _BLOBS.get(service, ())
    return {k: base64.b64decode(v) if k in blobs and isinstance(v, str) else v for k, v in answer.items()}


def _document(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def parse_error(response: transport.Response) -> tuple[str, str]:
    """The error code and message of a JSON protocol error answer."""
    document = _document(response.body)
    code = str(document.get("__type") or document.get("code") or response.headers.get("x-amzn-errortype", ""))
    code = code.rsplit("#", 1)[-1].split(":", 1)[0]
    query_error = response.headers.get("x-amzn-query-error")  # SQS names its query-protocol code here
    if query_error:
        code = query_error.split(";", 1)[0]
    message = str(document.get("message") or document.get("Message") or "")
    return code or str(response.status), message


class JsonClient(Operations):
    """A client for one JSON-protocol service in one region."""

    def __init__(self, service: str, region: str, credentials: Credentials | None = None) -> None:
        self._service = service
        self._prefix, version, self._operations, self._pages = SERVICES[service]
        self._endpoint = resolve(service, region)
        self._credentials = credentials
        self._headers = {"Content-Type": f"application/x-amz-json-{version}"}
        if service in _QUERY_COMPATIBLE:
            self._headers["x-amzn-query-mode"] = "true"

    def call(self, operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call ``operation`` with botocore's arguments; botocore's answer (without ResponseMetadata)."""
        token = _IDEMPOTENCY_TOKENS.get((self._service, operation))
        if token is not None and token not in arguments:
            arguments = {**arguments, token: str(uuid.uuid4())}  # once per call: every retry sends the same
        request = transport.Request(
            operation,
            headers={**self._headers, "X-Amz-Target": f"{self._prefix}.{operation}"},
            body=json.dumps(_encode(arguments), separators=(",", ":")).encode(),
        )
        try:
            response = transport.send(self._endpoint, request, parse_error, credentials=self._credentials)
        except transport.AwsClientError as error:
            # The error document's other fields, as botocore puts them in the response (DynamoDB's Item
            # of a failed condition with ReturnValuesOnConditionCheckFailure, which Powertools reads).
            document = _document(error.answer.body)
            extra = {k: v for k, v in document.items() if k not in ("__type", "message", "Message", "code")}
            error.response.update(_decode(self._service, extra))  # type: ignore[typeddict-item]
            raise
        answer = _document(response.body)
        return _decode(self._service, answer)

    def get_paginator(self, method: str) -> Paginator:
        """The paginator of a listing this client offers (following its token)."""
        sent, received = self._pages[method]
        return Paginator(getattr(self, method), lambda page: {sent: page[received]} if page.get(received) else None)
