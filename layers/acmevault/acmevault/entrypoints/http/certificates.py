"""The certificate routes: define (PUT), list, show and delete a certificate, renew it now, discard its
order in flight, revoke it.

A route on an existing certificate asks ``Access.certificate(name)`` first: the caller must be allowed by
the certificate's directory (admins always). POST and PUT act at most once per request (``RunOnce``).

A route that changes a certificate imports its use case when it runs, as the CLI's verbs do: definition,
recovery and revocation load cryptography, which the read-only routes never need (about 25 ms of the API
function's init, issue 14).
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from acmevault.app.authorization import Caller
from acmevault.app.services import Services
from acmevault.app.views import certificate_view
from acmevault.domain.certificate import Certificate, CertificateSpec
from acmevault.domain.errors import CertificateNotFound, ValidationError
from acmevault.domain.quoting import quoted
from acmevault.domain.validation import validate_name
from acmevault.entrypoints.http.dependencies import AccessDep, IssueRequestsDep, RunOnceDep, ServicesDep
from acmevault.entrypoints.http.idempotency import reply
from acmevault.entrypoints.http.requests import json_body, location, no_body, path_name, query

router = APIGatewayRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated

DEFAULT_LIMIT, MAX_LIMIT = 50, 100
_LIMIT = re.compile(r"\A[0-9]{1,3}\Z", re.ASCII)  # str.isdigit() would take Arabic-Indic digits too


@router.put("/certificates/<name>")
def put_certificate(name: str, services: ServicesDep, access: AccessDep, once: RunOnceDep) -> Response[Any]:
    """Create a certificate spec (201) or change one (200); the next sweep issues a new one.

    The caller must be allowed by the directory the certificate uses now and the one it names; moving it
    to another directory is for admins."""
    from acmevault.app.definition import define_certificate

    event = router.current_event
    name = path_name(event, name)
    caller, route = access.caller(), access.route()
    try:
        current: Certificate | None = services.certificates.get(name)
    except CertificateNotFound:
        current = None
    if current is not None:
        services.gate.may_use_certificate(caller, route, name, current.spec.directory)
    query(event)
    body = json_body(event)
    if "name" in body and body["name"] != name:
        raise ValidationError("name", "differs from the name in the path")
    spec = CertificateSpec.parse(name, body)
    if current is not None:
        services.gate.may_move_certificate(caller, route, name, current.spec.directory, spec.directory)
    permit = services.gate.may_use_certificate(caller, route, name, spec.directory)
    existing = None if current is None else current.spec.to_dict()

    def define() -> dict[str, Any]:
        cert = define_certificate(spec, services, permit)
        status = HTTPStatus.OK if existing is not None else HTTPStatus.CREATED
        return reply(router, status, certificate_view(cert), f"/certificates/{name}")

    return once(router, define, body, target=existing)


@router.get("/certificates")
def list_certificates(services: ServicesDep, access: AccessDep) -> dict[str, Any]:
    """One page in name order of the certificates the caller may see; pass ``next`` back as ``after``."""
    event = router.current_event
    caller = access.caller()
    parameters = query(event, "limit", "after")
    no_body(event)
    limit_text = parameters.get("limit", str(DEFAULT_LIMIT))
    if not _LIMIT.fullmatch(limit_text) or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise ValidationError("limit", f"{quoted(limit_text)} is not a whole number from 1 to {MAX_LIMIT}")
    after = parameters.get("after")
    if after is not None:
        validate_name(after, "after")
    page, following = _visible_page(services, caller, int(limit_text), after)
    defaults = services.default_acm_regions
    return {"certificates": [certificate_view(cert, defaults) for cert in page], "next": following}


def _visible_page(
    services: Services, caller: Caller, limit: int, after: str | None
) -> tuple[list[Certificate], str | None]:
    """Up to ``limit`` certificates the caller may see, after ``after``, and the name to continue after
    (None at the end). Pages of the table are read until the page is full or the table ends."""
    visible = services.gate.may_see(caller)
    shown: list[Certificate] = []
    cursor = after
    while True:
        page, following = services.certificates.list(limit=limit, after=cursor)
        for index, cert in enumerate(page):
            cursor = cert.spec.name
            if visible(cert.spec.directory):
                shown.append(cert)
            if len(shown) == limit:
                more = index < len(page) - 1 or following is not None
                return shown, cursor if more else None
        if following is None:
            return shown, None
        cursor = following


@router.get("/certificates/<name>")
def get_certificate(name: str, services: ServicesDep, access: AccessDep) -> dict[str, Any]:
    """The certificate as people see it, with its audit history."""
    event = router.current_event
    name = path_name(event, name)
    _, cert = access.certificate(name)
    query(event)
    no_body(event)
    view = certificate_view(cert, services.default_acm_regions)
    return {**view, "history": services.certificates.history(name)}


@router.delete("/certificates/<name>")
def delete_certificate_route(name: str, services: ServicesDep, access: AccessDep) -> dict[str, Any]:
    """Stop managing a certificate; ``?revoke=true&reason=R`` revokes what it serves first."""
    from acmevault.app.revocation import RevocationReason, delete_certificate

    event = router.current_event
    name = path_name(event, name)
    permit, _ = access.certificate(name)
    parameters = query(event, "revoke", "reason")
    no_body(event)
    revoke = parameters.get("revoke", "false")
    if revoke not in ("true", "false"):
        raise ValidationError("revoke", f"{quoted(revoke)} is not true or false")
    reason = None
    if revoke == "true":
        reason = RevocationReason.parse(parameters.get("reason"))
    elif "reason" in parameters:
        raise ValidationError("reason", "is given only with revoke=true")
    revoked = delete_certificate(name, services, reason)
    permit.record()
    return {
        "name": name,
        "deleted": True,
        "revoked": None if revoked is None else certificate_view(revoked),
        "message": "no longer managed; its ACM and S3 copies are left in place",
    }


@router.post("/certificates/<name>/renew")
def renew_certificate(
    name: str, services: ServicesDep, queue: IssueRequestsDep, access: AccessDep, once: RunOnceDep
) -> Response[Any]:
    """Renew now, due or not: queued for the issue worker (202); poll the certificate for a new serial."""
    from acmevault.app.sweep import queue_renewal

    event = router.current_event
    name = path_name(event, name)
    permit, _ = access.certificate(name)
    query(event)
    body = json_body(event, required=False, fields=())

    def renew() -> dict[str, Any]:
        current = queue_renewal(name, services, queue)
        permit.record()
        where = f"/certificates/{name}"
        answer = {
            "name": name,
            "queued": True,
            "serial": current.state.serial,
            "poll": location(event, where),
            "message": "renewal queued; the certificate shows a new serial when it is done",
        }
        return reply(router, HTTPStatus.ACCEPTED, answer, where)

    return once(router, renew, body)


@router.post("/certificates/<name>/reset")
def reset_certificate_route(name: str, services: ServicesDep, access: AccessDep) -> dict[str, Any]:
    """Discard the order in flight (on purpose): the next attempt orders anew for the spec as it is."""
    from acmevault.app.recovery import reset_certificate

    event = router.current_event
    name = path_name(event, name)
    permit, _ = access.certificate(name)
    query(event)
    json_body(event, required=False, fields=())
    reset = reset_certificate(name, services)
    discarded = reset.discarded
    if discarded is not None:
        permit.record()
    return {
        "name": name,
        "discarded": discarded is not None,
        "order_url": None if discarded is None else discarded.order_url,
        "certificate": certificate_view(reset.certificate, services.default_acm_regions),
        "message": "no order in flight; nothing discarded"
        if discarded is None
        else "order in flight discarded; the next attempt orders anew (the serving certificate is unchanged)",
    }


@router.post("/certificates/<name>/revoke")
def revoke_certificate_route(name: str, services: ServicesDep, access: AccessDep, once: RunOnceDep) -> Response[Any]:
    """Revoke at the CA with an RFC 5280 reason; the record, S3 and ACM copies are marked revoked."""
    from acmevault.app.revocation import RevocationReason, revoke_certificate

    event = router.current_event
    name = path_name(event, name)
    permit, cert = access.certificate(name)
    query(event)
    body = json_body(event, fields=("reason",))
    reason = RevocationReason.parse(body.get("reason"))
    serial = cert.state.serial

    def revoke() -> dict[str, Any]:
        revoked = revoke_certificate(name, reason, services)
        permit.record()
        view = {**certificate_view(revoked), "revocation": {"reason": reason.value, "code": reason.code}}
        return reply(router, HTTPStatus.OK, view)

    return once(router, revoke, body, target=serial)
