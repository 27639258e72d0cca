"""Call ApiFunction from template.yaml as API Gateway would: a sample event from events/, changed where a test needs.

Every answer is checked for secret material (the stack's EAB HMAC keys, PEM private keys) and,
when it is a success, for fields that must never be shown (eab_hmac_key, account_key). So is
every log record the call made, as it was logged: before the handler's output redaction, which
would otherwise hide a leak from the session's scanner.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acmevault_cli.local.invoke import find_function, load, load_event, run

from tests.conftest import find_secrets

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
KEEP: Any = object()
NEVER_SHOWN = {"eab_hmac_key", "account_key", "private_key", "privkey"}
NO_IDENTITY: Any = object()  # a request whose requestContext has no identity at all


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    text: str
    logged: list[str]  # the log records the call made, as logged (before any redaction)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


def sample(file: str) -> dict[str, Any]:
    return dict(load_event(ROOT / "events" / file))


def event(
    file: str,
    *,
    name: str | None = None,
    path: str | None = None,
    method: str | None = None,
    body: Any = KEEP,
    content_type: Any = KEEP,
    headers: dict[str, str] | None = None,
    query: Any = KEEP,
    raw_query: dict[str, list[str]] | None = None,
    base64_body: bytes | None = None,
    principal: Any = KEEP,
) -> dict[str, Any]:
    """The sample event ``file`` with the {name} in its path replaced, and any part swapped.

    ``body``: a dict or list is sent as JSON, a str as it is, None as no body. ``principal``: the ARN
    the request is signed as (the samples are the admin operator's session); None signs with no
    userArn, NO_IDENTITY leaves requestContext without an identity.
    """
    e = copy.deepcopy(sample(file))
    if name is not None:
        old = e["pathParameters"]["name"]
        e["path"] = e["path"].replace(f"/{old}", f"/{name}", 1)
        e["pathParameters"] = {"name": name}
    if path is not None:
        e["path"] = path
    if method is not None:
        e["httpMethod"] = method
    e["requestContext"]["path"] = "/prod" + e["path"]
    e["requestContext"]["httpMethod"] = e["httpMethod"]
    if body is not KEEP:
        e["body"] = json.dumps(body) if isinstance(body, (dict, list)) else body
        if body is not None and "Content-Type" not in e["headers"]:
            e["headers"]["Content-Type"] = "application/json"
    if base64_body is not None:
        e["body"] = base64.b64encode(base64_body).decode()
        e["isBase64Encoded"] = True
    if content_type is not KEEP:
        e["headers"].pop("Content-Type", None)
        if content_type is not None:
            e["headers"]["Content-Type"] = content_type
    e["headers"].update(headers or {})
    e["multiValueHeaders"] = {k: [v] for k, v in e["headers"].items()}
    if query is not KEEP:
        e["queryStringParameters"] = query
        e["multiValueQueryStringParameters"] = None if query is None else {k: [v] for k, v in query.items()}
    if raw_query is not None:
        e["queryStringParameters"] = {k: v[-1] for k, v in raw_query.items()}
        e["multiValueQueryStringParameters"] = raw_query
    if principal is NO_IDENTITY:
        del e["requestContext"]["identity"]
    elif principal is not KEEP:
        e["requestContext"]["identity"].update(signed_as(principal))
    return e


def signed_as(arn: str | None) -> dict[str, Any]:
    """The identity API Gateway's AWS_IAM authorizer puts in an event signed by ``arn``: an IAM user
    (AIDA... id), an assumed-role session (AROA...:session, a temporary ASIA... key), or none."""
    if arn is None:
        return {"userArn": None, "caller": None, "user": None, "accountId": None, "accessKey": None}
    account, resource = arn.split(":")[4], arn.split(":", 5)[5]
    if resource.startswith("assumed-role/"):
        role, session = resource.split("/")[1:3]
        caller, key = f"AROA{role.upper().replace('-', '')[:12]}:{session}", "ASIAEXAMPLETEMPORARY"
    else:
        caller, key = f"AIDA{resource.rsplit('/', 1)[-1].upper().replace('-', '')[:12]}", "AKIAEXAMPLELONGTERM"
    return {"userArn": arn, "caller": caller, "user": caller, "accountId": account, "accessKey": key}


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


class _RawRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__!r}")


def call(
    stack: Any, request: dict[str, Any], overrides: dict[Callable[..., Any], Callable[..., Any]] | None = None
) -> Reply:
    """ApiFunction's answer to ``request``; ``overrides`` swap route dependencies, keyed by their provider
    (``acmevault.entrypoints.http.dependencies``), as Powertools' ``app.dependency_overrides`` does."""
    records = _RawRecords()
    logger = logging.getLogger("acmevault")  # the handler's Powertools logger and every acmevault.* module
    logger.addHandler(records)
    try:
        function = find_function(TEMPLATE, "ApiFunction")
        module = load(function, stack.env)
        module.app.dependency_overrides.update(overrides or {})
        raw = run(function, module, request)
    finally:
        logger.removeHandler(records)
    logged = find_secrets("\n".join(records.lines))
    assert not logged, f"{request['httpMethod']} {request['path']} logged {logged}"
    headers = {k: v[-1] for k, v in (raw.get("multiValueHeaders") or {}).items()}
    headers.update(raw.get("headers") or {})
    text = raw["body"]
    leaks = find_secrets(text)
    assert not leaks, f"{request['httpMethod']} {request['path']} answered with {leaks}"
    body = json.loads(text)
    if raw["statusCode"] < 400:
        shown = _keys(body) & NEVER_SHOWN
        assert not shown, f"{request['httpMethod']} {request['path']} showed {shown}"
    return Reply(raw["statusCode"], headers, body, text, records.lines)
