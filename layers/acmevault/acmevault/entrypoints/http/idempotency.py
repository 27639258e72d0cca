"""POST and PUT act at most once per request: a retry gets the first answer back instead of a second
order or revocation (Powertools idempotency, its records in the certificate table's IDEMPOTENCY partition).

A request is its method, path and body, or its method, path and Idempotency-Key header when the caller
sends one (then the same key with another body is refused). The principal is part of it too: a replay
answers only the caller who made the first request. A route hands ``RunOnce`` its action and gets a
``Response``; the action returns ``reply(...)``, a form the store can keep and give back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from acmevault.domain.errors import AwsUnavailable, ConflictError, ValidationError
from acmevault.entrypoints.http.access import signed_arn
from acmevault.entrypoints.http.requests import location

if TYPE_CHECKING:  # Powertools idempotency imports boto3: loaded by the first POST or PUT, not at init
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_SECONDS = 3600  # a retry within the hour gets the first answer


class IdempotencyKeyReused(ValidationError):
    """The Idempotency-Key was sent before with another request (HTTP 422)."""

    code = "idempotency_key_reused"


def reply(router: APIGatewayRouter, status: int, body: dict[str, Any], where: str | None = None) -> dict[str, Any]:
    """What a route answers, in a form the idempotency store can keep and give back; ``where`` is the
    Location of what the request made or changed."""
    headers = {"Location": location(router.current_event, where)} if where else {}
    return {"status": int(status), "body": body, "headers": headers}


def _response(result: dict[str, Any]) -> Response[Any]:
    headers = dict(result.get("headers") or {})
    if result.get("replayed"):
        headers["Idempotent-Replayed"] = "true"
    return Response(result["status"], content_types.APPLICATION_JSON, result["body"], headers)


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True} if isinstance(response, dict) else response


class RunOnce:
    """Runs a route's action at most once per request, keeping its answer in ``store`` for an hour."""

    def __init__(self, store: BasePersistenceLayer) -> None:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        self.store = store
        self.config = IdempotencyConfig(
            event_key_jmespath="scope",
            payload_validation_jmespath="payload",
            expires_after_seconds=IDEMPOTENCY_SECONDS,
            hash_function="sha256",
            response_hook=_replayed,
        )

    def __call__(
        self, router: APIGatewayRouter, action: Callable[[], dict[str, Any]], body: dict[str, Any], target: Any = None
    ) -> Response[Any]:
        """Run ``action`` once for the request ``router`` is answering; a repeat gets the first answer back,
        marked Idempotent-Replayed.

        ``target`` is the state the action applies to (the serial a revocation revokes, the spec a PUT
        replaces): without a key, the same request against a changed target acts again — a revoke after a
        re-issue revokes the new one.
        """
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        event = router.current_event
        key = event.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and not (1 <= len(key) <= 255 and key.isascii() and key.isprintable()):
            raise ValidationError(IDEMPOTENCY_HEADER, "must be 1-255 printable ASCII characters")
        request = {"method": event.http_method, "path": event.path, "principal": signed_arn(event)}
        if key is not None:
            data = {"scope": {**request, "key": key}, "payload": {"body": body}}
        else:
            data = {"scope": {**request, "body": body, "target": target}, "payload": {}}
        self.config.register_lambda_context(router.lambda_context)  # an attempt cut short by a timeout frees the key

        def once(request: dict[str, Any]) -> dict[str, Any]:
            return action()

        guarded = idempotent_function(
            once,
            data_keyword_argument="request",
            persistence_store=self.store,
            config=self.config,
            key_prefix="acmevault-api",
        )
        try:
            result: dict[str, Any] = guarded(request=data)
        except IdempotencyAlreadyInProgressError:
            raise ConflictError("the same request is being worked on right now; try again in a few seconds") from None
        except IdempotencyValidationError:
            raise IdempotencyKeyReused(
                IDEMPOTENCY_HEADER, "was used for a different request in the last hour; send a new key"
            ) from None
        except IdempotencyPersistenceLayerError:
            raise AwsUnavailable("recording the request in DynamoDB (idempotency) failed") from None
        return _response(result)
