"""The directory routes: vault a credential, list and show directories, set a directory's policy.

Only admins change a directory (``Access.admin_only``); a listing shows the directories the caller may use.
The rotation routes (POST /directories/{name}/rotate and /revoke) are in ``rotation``.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from acmevault.app.views import directory_detail, directory_view
from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.policy import POLICY_FIELDS, DirectoryPolicy
from acmevault.entrypoints.http.dependencies import AccessDep, RotationDep, RunOnceDep, ServicesDep
from acmevault.entrypoints.http.idempotency import reply
from acmevault.entrypoints.http.requests import json_body, no_body, path_name, query

router = APIGatewayRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated


@router.put("/directories/<name>")
def put_directory(name: str, services: ServicesDep, access: AccessDep, once: RunOnceDep) -> Response[Any]:
    """Vault a credential and register its ACME account at once (the HMAC key is never echoed)."""
    event = router.current_event
    name = path_name(event, name)
    permit = access.admin_only(name)
    query(event)
    body = json_body(event)
    credential = DirectoryCredential.parse(body)

    def vault() -> dict[str, Any]:
        services.accounts.vault(name, credential)
        permit.record()
        return reply(router, HTTPStatus.CREATED, directory_view(name, services.directories), f"/directories/{name}")

    return once(router, vault, body)


@router.get("/directories")
def list_directories(services: ServicesDep, access: AccessDep) -> dict[str, Any]:
    """The directories the caller may use (every one, for an admin)."""
    event = router.current_event
    caller = access.caller()
    query(event)
    no_body(event)
    visible = services.gate.may_see(caller)
    names = [name for name in services.directories.list() if visible(name)]
    return {"directories": [directory_view(name, services.directories) for name in names]}


@router.get("/directories/<name>")
def get_directory(name: str, services: ServicesDep, rotation: RotationDep, access: AccessDep) -> dict[str, Any]:
    """The public view, with the directory's state (lost or not), its policy, its last rotation and its history."""
    event = router.current_event
    name = path_name(event, name)
    services.gate.may_read_directory(access.caller(), access.route(), name)
    query(event)
    no_body(event)
    return directory_detail(name, services.directories, rotation.records)


@router.put("/directories/<name>/policy")
def put_directory_policy(name: str, services: ServicesDep, rotation: RotationDep, access: AccessDep) -> dict[str, Any]:
    """Replace the directory's whole policy: which names it may issue for, which principals may use it."""
    event = router.current_event
    name = path_name(event, name)
    permit = access.admin_only(name)
    query(event)
    policy = DirectoryPolicy.parse(json_body(event, fields=POLICY_FIELDS))
    services.accounts.set_policy(name, policy, permit.caller.arn)  # noted in the directory's history
    return directory_detail(name, services.directories, rotation.records)
