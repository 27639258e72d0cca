"""The rotation routes: roll a directory's account key over or replace its lost credential (POST
/directories/{name}/rotate), and mark a credential lost (POST /directories/{name}/revoke). Admins only.

Both act at most once per request: a retry gets the first answer back; to rotate again within the hour,
send a new Idempotency-Key. Each answers with the directory's detail as it is afterwards.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from acmevault.app.rotation import NewCredential, mark_lost, replace_credential, rotate_account_key
from acmevault.app.views import directory_detail
from acmevault.domain.directory import CREDENTIAL_FIELDS, DirectoryCredential
from acmevault.domain.errors import ValidationError
from acmevault.entrypoints.http.dependencies import AccessDep, RotationDep, RunOnceDep, ServicesDep
from acmevault.entrypoints.http.idempotency import reply
from acmevault.entrypoints.http.requests import json_body, path_name, query

router = APIGatewayRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated

ROTATE_FIELDS = (*CREDENTIAL_FIELDS, "revoke_previous", "certcentral")


def _new_credential(body: dict[str, Any]) -> NewCredential | None:
    """What a rotate body asks for: None (no body) rolls the key over; a credential or ``"certcentral": true``
    replaces a lost one."""
    revoke_previous, certcentral = body.get("revoke_previous", False), body.get("certcentral", False)
    for field_name, value in (("revoke_previous", revoke_previous), ("certcentral", certcentral)):
        if not isinstance(value, bool):
            raise ValidationError(field_name, "must be true or false")
    given = {k: v for k, v in body.items() if k not in ("revoke_previous", "certcentral")}
    if given and certcentral:
        raise ValidationError("certcentral", "give a new credential or certcentral: true, not both")
    if given or certcentral:
        return NewCredential(DirectoryCredential.parse(given) if given else None, revoke_previous)
    if revoke_previous:
        raise ValidationError("revoke_previous", "applies to a replaced credential (directory_url, eab_kid, ...)")
    return None


@router.post("/directories/<name>/rotate")
def rotate_directory(
    name: str, rotation: RotationDep, services: ServicesDep, access: AccessDep, once: RunOnceDep
) -> Response[Any]:
    """No body: roll the account key over. A new credential (or ``"certcentral": true``): replace a lost
    one; its old account is deactivated and its certificates are queued for re-issue (and, with
    ``revoke_previous``, revoked once their replacements are served)."""
    event = router.current_event
    name = path_name(event, name)
    permit = access.admin_only(name)
    actor = permit.caller.arn
    query(event)
    body = json_body(event, required=False, fields=ROTATE_FIELDS)
    request = _new_credential(body)

    def rotate() -> dict[str, Any]:
        if request is None:
            rotate_account_key(name, rotation, actor)
        else:
            replace_credential(name, request, rotation, actor)
        permit.record()
        view = directory_detail(name, services.directories, rotation.records)
        return reply(router, HTTPStatus.OK, view, f"/directories/{name}")

    return once(router, rotate, body)


@router.post("/directories/<name>/revoke")
def revoke_directory(
    name: str, rotation: RotationDep, services: ServicesDep, access: AccessDep, once: RunOnceDep
) -> Response[Any]:
    """Mark the credential lost: its account is deactivated, nothing is issued from it, people are told."""
    event = router.current_event
    name = path_name(event, name)
    permit = access.admin_only(name)
    actor = permit.caller.arn
    query(event)
    body = json_body(event, required=False, fields=("reason",))
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or not reason.isprintable() or len(reason) > 200):
        raise ValidationError("reason", "must be printable text of at most 200 characters")

    def revoke() -> dict[str, Any]:
        mark_lost(name, rotation, actor, reason)
        permit.record()
        view = directory_detail(name, services.directories, rotation.records)
        return reply(router, HTTPStatus.OK, view, f"/directories/{name}")

    return once(router, revoke, body)
