"""The one place errors become HTTP: every error is ``{"error": code, "message": text}`` (with ``field``
for bad input, ``request_id`` for a 5xx), its status chosen by the error's class (``STATUS_BY_ERROR``),
never by its text.

``router`` holds only the exception handlers; the resolver includes it beside the routes. What the caller
sent stays out of the logs: a refusal logs its code and field, an unexpected error its type and where.
"""

from __future__ import annotations

import logging
import math
import re
import traceback
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFound
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from acmevault.domain.errors import (
    AcmeVaultError,
    AwsError,
    CaError,
    ConflictError,
    Forbidden,
    NotFoundError,
    UnavailableError,
    ValidationError,
)
from acmevault.entrypoints.http.idempotency import IdempotencyKeyReused
from acmevault.entrypoints.http.requests import PayloadTooLarge, UnsupportedMediaType

log = logging.getLogger(__name__)

router = APIGatewayRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated

RETRY_AFTER_SECONDS = 5  # when a dependency is down and did not say for how long
# A path as the 404 may show it: route words and names; anything else is described by its length.
_SHOWN_SEGMENT = re.compile(r"\A[a-z0-9._-]{0,63}\Z", re.ASCII)

# The first class the error is an instance of decides; subclasses come before their bases.
STATUS_BY_ERROR: tuple[tuple[type[AcmeVaultError], HTTPStatus], ...] = (
    (PayloadTooLarge, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    (UnsupportedMediaType, HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (IdempotencyKeyReused, HTTPStatus.UNPROCESSABLE_ENTITY),
    (ValidationError, HTTPStatus.BAD_REQUEST),
    (Forbidden, HTTPStatus.FORBIDDEN),
    (NotFoundError, HTTPStatus.NOT_FOUND),
    (ConflictError, HTTPStatus.CONFLICT),
    (UnavailableError, HTTPStatus.SERVICE_UNAVAILABLE),
    (CaError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (AwsError, HTTPStatus.BAD_GATEWAY),
)


def status_for(error: AcmeVaultError) -> HTTPStatus:
    """The HTTP status of an error, by its class (500 for a class not listed)."""
    return next(
        (status for kind, status in STATUS_BY_ERROR if isinstance(error, kind)), HTTPStatus.INTERNAL_SERVER_ERROR
    )


def _error(status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(status, content_types.APPLICATION_JSON, body, headers or {})


def _request_id() -> str:
    return str(router.current_event.request_context.request_id)


@router.exception_handler(AcmeVaultError)  # type: ignore[untyped-decorator]  # unannotated in Powertools
def acmevault_error(error: AcmeVaultError) -> Response[Any]:
    """An acmevault error as its status and error body (Retry-After when something is unavailable)."""
    status = status_for(error)
    body: dict[str, Any] = {"error": error.code, "message": error.message}
    headers = {}
    if isinstance(error, (ValidationError, Forbidden)):
        body["field"] = error.field
    if isinstance(error, UnavailableError):
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after or RETRY_AFTER_SECONDS)))
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        body["request_id"] = _request_id()
    # The code and field, not the message: what the caller sent stays out of the logs.
    log.log(
        logging.WARNING if status >= HTTPStatus.INTERNAL_SERVER_ERROR else logging.INFO,
        "request refused",
        extra={"status": int(status), "error": error.code, "field": getattr(error, "field", None)},
    )
    return _error(status, body, headers)


@router.exception_handler(RouteNotFound)  # type: ignore[untyped-decorator]
def no_route(_: RouteNotFound) -> Response[Any]:
    """A request no route takes: 404 in the error format, the path shown only as far as it is plain words."""
    event = router.current_event
    message = f"no route {event.http_method[:10]} {_shown_path(event.path)} (routes: openapi.yaml)"
    return _error(HTTPStatus.NOT_FOUND, {"error": "not_found", "message": message})


def _shown_path(path: str) -> str:
    """The path of a request no route takes, each segment that is not a plain word shown by its length."""
    segments = path[:512].split("/")
    return "/".join(s if _SHOWN_SEGMENT.fullmatch(s) else f"<{len(s)} characters>" for s in segments)


@router.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected_error(error: Exception) -> Response[Any]:
    """Anything else: 500 with the request id; the log has the error's type and where it was raised."""
    # The type and where (file:line in function), never the text or source: either may quote a value.
    frames = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(error.__traceback__)]
    log.error("unexpected error", extra={"error_type": type(error).__name__, "frames": frames})
    body = {
        "error": "internal_error",
        "message": "something unexpected went wrong; the request id finds it in the logs",
        "request_id": _request_id(),
    }
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, body)
