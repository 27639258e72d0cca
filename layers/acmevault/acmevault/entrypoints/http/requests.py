"""The checks every request gets before a route acts on it: its body (size, media type, JSON, known
fields), its query parameters, and the name in its path.

Each check reads the request's event (``router.current_event``) and nothing else, and refuses with a
``ValidationError`` naming the field at fault (HTTP 400, or 413/415 for the two classes below). A refusal
quotes a position or a length, never what was sent: a body may hold a secret.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from acmevault.domain.errors import ValidationError
from acmevault.domain.quoting import field_label, quoted
from acmevault.domain.validation import validate_name

MAX_BODY_BYTES = 64 * 1024


class PayloadTooLarge(ValidationError):
    """The body is larger than a request may carry (HTTP 413)."""

    code = "payload_too_large"


class UnsupportedMediaType(ValidationError):
    """The body is not sent as ``application/json`` in UTF-8 (HTTP 415)."""

    code = "unsupported_media_type"


def _raw_body(event: APIGatewayProxyEvent) -> bytes | None:
    if not event.body:
        return None
    if len(event.body) > 2 * MAX_BODY_BYTES:  # cheap guard before decoding anything
        raise PayloadTooLarge("body", f"is larger than {MAX_BODY_BYTES} bytes, the most a request may carry")
    if event.is_base64_encoded:
        try:
            raw = base64.b64decode(event.body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("body", "is marked base64-encoded but is not base64") from None
    else:
        raw = event.body.encode()
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge("body", f"is {len(raw)} bytes; a request may carry at most {MAX_BODY_BYTES}")
    return raw if raw.strip() else None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValidationError(field_label(key), "is given twice in the body")
        data[key] = value
    return data


def _reject_constant(name: str) -> Any:
    raise ValidationError("body", f"{name} is not JSON")


def json_body(
    event: APIGatewayProxyEvent, *, required: bool = True, fields: Sequence[str] | None = None
) -> dict[str, Any]:
    """The request's body as a JSON object, after the checks every body gets.

    With ``fields``, any other field is refused by name; without, the caller's parser does that.
    No body is ``{}`` unless one is ``required``.
    """
    raw = _raw_body(event)
    if raw is None:
        if required:
            raise ValidationError("body", "a JSON object is required")
        return {}
    content_type = event.headers.get("content-type") or ""
    media, *parameters = (part.strip().lower() for part in content_type.split(";"))
    charsets = [p.removeprefix("charset=").strip('"') for p in parameters if p.startswith("charset=")]
    if media != "application/json" or any(charset != "utf-8" for charset in charsets):
        shown = quoted(content_type) if content_type else "none"
        raise UnsupportedMediaType("Content-Type", f"is {shown}; send the body as application/json")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ValidationError("body", "is not UTF-8") from None
    except json.JSONDecodeError as error:
        # The position, never the text: a body may hold a secret.
        raise ValidationError(
            "body", f"is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    except RecursionError:
        raise ValidationError("body", "is nested too deeply") from None
    if not isinstance(data, dict):
        raise ValidationError("body", "must be a JSON object")
    if fields is not None:
        unknown = sorted(set(data) - set(fields))
        if unknown:
            allowed = ", ".join(fields) or "none"
            raise ValidationError(field_label(unknown[0]), f"is not a field of this request (fields: {allowed})")
    return data


def no_body(event: APIGatewayProxyEvent) -> None:
    """Refuse a body on a request that takes none (GET, DELETE)."""
    if _raw_body(event) is not None:
        raise ValidationError("body", f"{event.http_method} takes no body")


def query(event: APIGatewayProxyEvent, *allowed: str) -> dict[str, str]:
    """The query parameters, each at most once; any other is refused by name."""
    given = event.query_string_parameters or {}
    repeated = event.multi_value_query_string_parameters or {}
    for name in sorted({*given, *repeated}):
        if name not in allowed:
            listed = ", ".join(allowed) or "none"
            raise ValidationError(field_label(name), f"is not a query parameter of this request (parameters: {listed})")
        if len(repeated.get(name) or ()) > 1:
            raise ValidationError(name, "is given more than once")
    return dict(given)


def path_name(event: APIGatewayProxyEvent, value: str) -> str:
    """The {name} in a path: a directory or certificate name, never a path of its own."""
    path = event.path
    if path.endswith("\n"):
        # Powertools matches routes with `$`, which also matches before a final newline: /x/web\n reached "web".
        if path.removesuffix("\n").endswith(f"/{value}"):
            validate_name(f"{value}\n", "name")
        raise ValidationError("path", "ends with a newline")
    if len(value) > 100:
        raise ValidationError("name", f"is {len(value)} characters long; a name has at most 63")
    return validate_name(value, "name")


def location(event: APIGatewayProxyEvent, path: str) -> str:
    """``path`` as the caller reaches it: behind the stage (/prod) or a custom domain's base path."""
    seen = event.request_context.path or ""
    return (seen[: -len(event.path)] if event.path and seen.endswith(event.path) else "") + path
