"""The HTTP API (API Gateway REST, AWS_IAM auth): routes → use cases, and the one place errors become HTTP.

A route checks its request (size, media type, JSON, known fields, a valid name in the
path), calls one use case and answers JSON. POST and PUT act at most once per request
(``run_once``, Powertools idempotency on the certificate table): a retry gets the
first answer back instead of a second order or revocation. Every error is
``{"error": code, "message": text}`` (with ``field`` for bad input), its status chosen
by the error's class (``STATUS_BY_ERROR``), never by its text.

Who may call which route is asked in one place: a directory route calls ``admin_only(name)``, a route
on an existing certificate ``certificate_access(name)``; both answer 403 (``Forbidden``, audited) before
anything is read from the body or changed. The names rule (allowed_domains) is the use case's
(``define_certificate``), so it holds for the command line too.

functions/api/app.py puts ``router`` in its resolver. The directory routes of the
rotation work (POST /directories/{name}/rotate and /revoke) go on the same router,
beside the other directory routes, with the same helpers; openapi.yaml lists every route
and a test holds the two together.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import traceback
from collections.abc import Callable, Sequence
from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFound
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from acmevault.adapters.aws.clients import client
from acmevault.app.authorization import Caller, Permit
from acmevault.app.issuance import define_certificate
from acmevault.app.recovery import reset_certificate
from acmevault.app.renewal import queue_renewal
from acmevault.app.revocation import RevocationReason, delete_certificate, revoke_certificate
from acmevault.app.rotation import NewCredential, directory_report, mark_lost, replace_credential, rotate_account_key
from acmevault.app.views import certificate_view, directory_view
from acmevault.composition import services as composition
from acmevault.composition.config import settings
from acmevault.domain.certificate import Certificate, CertificateSpec
from acmevault.domain.directory import CREDENTIAL_FIELDS, DirectoryCredential
from acmevault.domain.errors import (
    AcmeVaultError,
    AwsError,
    AwsUnavailable,
    CaError,
    CertificateNotFound,
    ConflictError,
    Forbidden,
    NotFoundError,
    UnavailableError,
    ValidationError,
)
from acmevault.domain.policy import POLICY_FIELDS, DirectoryPolicy
from acmevault.domain.quoting import field_label, quoted
from acmevault.domain.validation import validate_name

log = logging.getLogger(__name__)

router = APIGatewayRouter()  # type: ignore[no-untyped-call]  # Powertools leaves __init__ unannotated

MAX_BODY_BYTES = 64 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_SECONDS = 3600  # a retry within the hour gets the first answer
IDEMPOTENCY_PK = "IDEMPOTENCY"  # the records' partition in the certificate table
DEFAULT_LIMIT, MAX_LIMIT = 50, 100
RETRY_AFTER_SECONDS = 5  # when a dependency is down and did not say for how long
_LIMIT = re.compile(r"\A[0-9]{1,3}\Z", re.ASCII)  # str.isdigit() would take Arabic-Indic digits too
# A path as the 404 may show it: route words and names; anything else is described by its length.
_SHOWN_SEGMENT = re.compile(r"\A[a-z0-9._-]{0,63}\Z", re.ASCII)


# -- request hygiene -------------------------------------------------------------------------------


class PayloadTooLarge(ValidationError):
    code = "payload_too_large"


class UnsupportedMediaType(ValidationError):
    code = "unsupported_media_type"


class IdempotencyKeyReused(ValidationError):
    code = "idempotency_key_reused"


def _raw_body() -> bytes | None:
    event = router.current_event
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


def json_body(*, required: bool = True, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The request's body as a JSON object, after the checks every body gets.

    With ``fields``, any other field is refused by name; without, the caller's parser does that.
    No body is ``{}`` unless one is ``required``.
    """
    raw = _raw_body()
    if raw is None:
        if required:
            raise ValidationError("body", "a JSON object is required")
        return {}
    content_type = router.current_event.headers.get("content-type") or ""
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


def no_body() -> None:
    if _raw_body() is not None:
        event = router.current_event
        raise ValidationError("body", f"{event.http_method} takes no body")


def query(*allowed: str) -> dict[str, str]:
    """The query parameters, each at most once; any other is refused by name."""
    event = router.current_event
    given = event.query_string_parameters or {}
    repeated = event.multi_value_query_string_parameters or {}
    for name in sorted({*given, *repeated}):
        if name not in allowed:
            listed = ", ".join(allowed) or "none"
            raise ValidationError(field_label(name), f"is not a query parameter of this request (parameters: {listed})")
        if len(repeated.get(name) or ()) > 1:
            raise ValidationError(name, "is given more than once")
    return dict(given)


def path_name(value: str) -> str:
    """The {name} in a path: a directory or certificate name, never a path of its own."""
    path = router.current_event.path
    if path.endswith("\n"):
        # Powertools matches routes with `$`, which also matches before a final newline: /x/web\n reached "web".
        if path.removesuffix("\n").endswith(f"/{value}"):
            validate_name(f"{value}\n", "name")
        raise ValidationError("path", "ends with a newline")
    if len(value) > 100:
        raise ValidationError("name", f"is {len(value)} characters long; a name has at most 63")
    return validate_name(value, "name")


def _location(path: str) -> str:
    """``path`` as the caller reaches it: behind the stage (/prod) or a custom domain's base path."""
    event = router.current_event
    seen = event.request_context.path or ""
    return (seen[: -len(event.path)] if event.path and seen.endswith(event.path) else "") + path


def reply(status: int, body: dict[str, Any], location: str | None = None) -> dict[str, Any]:
    """What a route answers, in a form the idempotency store can keep and give back."""
    return {"status": int(status), "body": body, "headers": {"Location": _location(location)} if location else {}}


def _response(result: dict[str, Any]) -> Response[Any]:
    headers = dict(result.get("headers") or {})
    if result.get("replayed"):
        headers["Idempotent-Replayed"] = "true"
    return Response(result["status"], content_types.APPLICATION_JSON, result["body"], headers)


# -- idempotency -----------------------------------------------------------------------------------


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "replayed": True} if isinstance(response, dict) else response


@cache
def _idempotency() -> tuple[DynamoDBPersistenceLayer, IdempotencyConfig]:
    """Built at the first POST or PUT (not at import): it needs the settings and a DynamoDB client."""
    config = settings()
    store = DynamoDBPersistenceLayer(
        table_name=config.table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=IDEMPOTENCY_PK,
        boto3_client=client("dynamodb", config.region),
    )
    return store, IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="payload",
        expires_after_seconds=IDEMPOTENCY_SECONDS,
        hash_function="sha256",
        response_hook=_replayed,
    )


def run_once(action: Callable[[], dict[str, Any]], body: dict[str, Any], target: Any = None) -> Response[Any]:
    """Run ``action`` once per request; a repeat gets the first answer back, marked Idempotent-Replayed.

    A request is its method, path and body, or its method, path and Idempotency-Key header when the
    caller sends one (then the same key with another body is refused). ``target`` is the state the
    action applies to (the serial a revocation revokes, the spec a PUT replaces): without a key, the
    same request against a changed target acts again — a revoke after a re-issue revokes the new one.
    """
    event = router.current_event
    key = event.headers.get(IDEMPOTENCY_HEADER)
    if key is not None and not (1 <= len(key) <= 255 and key.isascii() and key.isprintable()):
        raise ValidationError(IDEMPOTENCY_HEADER, "must be 1-255 printable ASCII characters")
    # The principal too: a replay answers only the caller who made the first request.
    request = {"method": event.http_method, "path": event.path, "principal": _signed_arn()}
    if key is not None:
        data = {"scope": {**request, "key": key}, "payload": {"body": body}}
    else:
        data = {"scope": {**request, "body": body, "target": target}, "payload": {}}
    store, config = _idempotency()
    config.register_lambda_context(router.lambda_context)  # an attempt cut short by a timeout frees the key

    def once(request: dict[str, Any]) -> dict[str, Any]:
        return action()

    guarded = idempotent_function(
        once, data_keyword_argument="request", persistence_store=store, config=config, key_prefix="acmevault-api"
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


# -- directories -----------------------------------------------------------------------------------


@router.put("/directories/<name>")
def put_directory(name: str) -> Response[Any]:
    """Vault a credential and register its ACME account at once (the HMAC key is never echoed)."""
    name = path_name(name)
    permit = admin_only(name)
    query()
    body = json_body()
    credential = DirectoryCredential.parse(body)
    services = composition.services()

    def vault() -> dict[str, Any]:
        services.accounts.vault(name, credential)
        permit.record()
        return reply(HTTPStatus.CREATED, directory_view(name, services.directories), f"/directories/{name}")

    return run_once(vault, body)


@router.get("/directories")
def list_directories() -> dict[str, Any]:
    """The directories the caller may use (every one, for an admin)."""
    caller = _caller()
    query()
    no_body()
    services = composition.services()
    visible = services.gate.may_see(caller)
    names = [name for name in services.directories.list() if visible(name)]
    return {"directories": [directory_view(name, services.directories) for name in names]}


@router.get("/directories/<name>")
def get_directory(name: str) -> dict[str, Any]:
    """The public view, with the directory's state (lost or not), its policy, its last rotation and its history."""
    name = path_name(name)
    composition.services().gate.may_read_directory(_caller(), _route(), name)
    query()
    no_body()
    return _directory_detail(name)


ROTATE_FIELDS = (*CREDENTIAL_FIELDS, "revoke_previous", "certcentral")


@router.post("/directories/<name>/rotate")
def rotate_directory(name: str) -> Response[Any]:
    """No body: roll the account key over. A new credential (or ``"certcentral": true``): replace a lost
    one; its old account is deactivated and its certificates are queued for re-issue (and, with
    ``revoke_previous``, revoked once their replacements are served)."""
    name = path_name(name)
    permit = admin_only(name)
    actor = permit.caller.arn
    query()
    body = json_body(required=False, fields=ROTATE_FIELDS)
    revoke_previous, certcentral = body.get("revoke_previous", False), body.get("certcentral", False)
    for field_name, value in (("revoke_previous", revoke_previous), ("certcentral", certcentral)):
        if not isinstance(value, bool):
            raise ValidationError(field_name, "must be true or false")
    given = {k: v for k, v in body.items() if k not in ("revoke_previous", "certcentral")}
    if given and certcentral:
        raise ValidationError("certcentral", "give a new credential or certcentral: true, not both")
    request = None
    if given or certcentral:
        request = NewCredential(DirectoryCredential.parse(given) if given else None, revoke_previous)
    elif revoke_previous:
        raise ValidationError("revoke_previous", "applies to a replaced credential (directory_url, eab_kid, ...)")
    ctx = composition.rotation()

    def rotate() -> dict[str, Any]:
        if request is None:
            rotate_account_key(name, ctx, actor)
        else:
            replace_credential(name, request, ctx, actor)
        permit.record()
        return reply(HTTPStatus.OK, _directory_detail(name), f"/directories/{name}")

    # A retry gets the first answer back; to rotate again within the hour, send a new Idempotency-Key.
    return run_once(rotate, body)


@router.post("/directories/<name>/revoke")
def revoke_directory(name: str) -> Response[Any]:
    """Mark the credential lost: its account is deactivated, nothing is issued from it, people are told."""
    name = path_name(name)
    permit = admin_only(name)
    actor = permit.caller.arn
    query()
    body = json_body(required=False, fields=("reason",))
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or not reason.isprintable() or len(reason) > 200):
        raise ValidationError("reason", "must be printable text of at most 200 characters")
    ctx = composition.rotation()

    def revoke() -> dict[str, Any]:
        mark_lost(name, ctx, actor, reason)
        permit.record()
        return reply(HTTPStatus.OK, _directory_detail(name), f"/directories/{name}")

    return run_once(revoke, body)


@router.put("/directories/<name>/policy")
def put_directory_policy(name: str) -> dict[str, Any]:
    """Replace the directory's whole policy: which names it may issue for, which principals may use it."""
    name = path_name(name)
    permit = admin_only(name)
    query()
    policy = DirectoryPolicy.parse(json_body(fields=POLICY_FIELDS))
    services = composition.services()
    services.accounts.set_policy(name, policy, permit.caller.arn)  # noted in the directory's history
    return _directory_detail(name)


def _directory_detail(name: str) -> dict[str, Any]:
    view = directory_view(name, composition.services().directories)
    return {**view, **directory_report(name, composition.rotation())}


# -- who is asking ---------------------------------------------------------------------------------


def _signed_arn() -> str | None:
    """The ARN of the IAM principal that signed the request (API Gateway's AWS_IAM authorizer checked it)."""
    context = router.current_event.raw_event.get("requestContext") or {}
    identity = context.get("identity") if isinstance(context, dict) else None
    arn = identity.get("userArn") if isinstance(identity, dict) else None
    return arn if isinstance(arn, str) and arn else None


def _caller() -> Caller:
    """Who is asking, admin or not; a request without an identity is refused (403)."""
    return Caller.signed(_signed_arn(), settings().admin_principals)


def _route() -> str:
    event = router.current_event
    context = event.raw_event.get("requestContext") or {}
    return f"{event.http_method} {context.get('resourcePath') or event.resource or event.path}"


def admin_only(directory: str) -> Permit:
    """A directory route's permit, if the caller is an admin; otherwise 403 (audited in the directory's
    history). The route calls ``permit.record()`` once it has made its change."""
    return composition.services().gate.admin_only(_caller(), _route(), directory)


def certificate_access(name: str) -> tuple[Permit, Certificate]:
    """A route on the existing certificate ``name``: its permit and the certificate, if its directory allows
    the caller (admins always); otherwise 403, audited. A change calls ``permit.record()`` once it is made."""
    caller = _caller()
    services = composition.services()
    cert = services.certificates.get(name)
    return services.gate.may_use_certificate(caller, _route(), name, cert.spec.directory), cert


# -- certificates ----------------------------------------------------------------------------------


@router.put("/certificates/<name>")
def put_certificate(name: str) -> Response[Any]:
    """Create a certificate spec (201) or change one (200); the next sweep issues a new one.

    The caller must be allowed by the directory the certificate uses now and the one it names; moving it
    to another directory is for admins."""
    name = path_name(name)
    caller, route = _caller(), _route()
    services = composition.services()
    try:
        current: Certificate | None = services.certificates.get(name)
    except CertificateNotFound:
        current = None
    if current is not None:
        services.gate.may_use_certificate(caller, route, name, current.spec.directory)
    query()
    body = json_body()
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
        return reply(status, certificate_view(cert), f"/certificates/{name}")

    return run_once(define, body, target=existing)


@router.get("/certificates")
def list_certificates() -> dict[str, Any]:
    """One page in name order of the certificates the caller may see; pass ``next`` back as ``after``."""
    caller = _caller()
    parameters = query("limit", "after")
    no_body()
    limit_text = parameters.get("limit", str(DEFAULT_LIMIT))
    if not _LIMIT.fullmatch(limit_text) or not 1 <= int(limit_text) <= MAX_LIMIT:
        raise ValidationError("limit", f"{quoted(limit_text)} is not a whole number from 1 to {MAX_LIMIT}")
    after = parameters.get("after")
    if after is not None:
        validate_name(after, "after")
    page, following = _visible_page(caller, int(limit_text), after)
    defaults = composition.services().default_acm_regions
    return {"certificates": [certificate_view(cert, defaults) for cert in page], "next": following}


def _visible_page(caller: Caller, limit: int, after: str | None) -> tuple[list[Certificate], str | None]:
    """Up to ``limit`` certificates the caller may see, after ``after``, and the name to continue after
    (None at the end). Pages of the table are read until the page is full or the table ends."""
    services = composition.services()
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
def get_certificate(name: str) -> dict[str, Any]:
    name = path_name(name)
    _, cert = certificate_access(name)
    query()
    no_body()
    services = composition.services()
    view = certificate_view(cert, services.default_acm_regions)
    return {**view, "history": services.certificates.history(name)}


@router.delete("/certificates/<name>")
def delete_certificate_route(name: str) -> dict[str, Any]:
    """Stop managing a certificate; ``?revoke=true&reason=R`` revokes what it serves first."""
    name = path_name(name)
    permit, _ = certificate_access(name)
    parameters = query("revoke", "reason")
    no_body()
    revoke = parameters.get("revoke", "false")
    if revoke not in ("true", "false"):
        raise ValidationError("revoke", f"{quoted(revoke)} is not true or false")
    reason = None
    if revoke == "true":
        reason = RevocationReason.parse(parameters.get("reason"))
    elif "reason" in parameters:
        raise ValidationError("reason", "is given only with revoke=true")
    revoked = delete_certificate(name, composition.services(), reason)
    permit.record()
    return {
        "name": name,
        "deleted": True,
        "revoked": None if revoked is None else certificate_view(revoked),
        "message": "no longer managed; its ACM and S3 copies are left in place",
    }


@router.post("/certificates/<name>/renew")
def renew_certificate(name: str) -> Response[Any]:
    """Renew now, due or not: queued for the issue worker (202); poll the certificate for a new serial."""
    name = path_name(name)
    permit, _ = certificate_access(name)
    query()
    body = json_body(required=False, fields=())
    services = composition.services()

    def renew() -> dict[str, Any]:
        current = queue_renewal(name, services, composition.queue())
        permit.record()
        where = f"/certificates/{name}"
        answer = {
            "name": name,
            "queued": True,
            "serial": current.state.serial,
            "poll": _location(where),
            "message": "renewal queued; the certificate shows a new serial when it is done",
        }
        return reply(HTTPStatus.ACCEPTED, answer, where)

    return run_once(renew, body)


@router.post("/certificates/<name>/reset")
def reset_certificate_route(name: str) -> dict[str, Any]:
    """Discard the order in flight (on purpose): the next attempt orders anew for the spec as it is."""
    name = path_name(name)
    permit, _ = certificate_access(name)
    query()
    json_body(required=False, fields=())
    services = composition.services()
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
def revoke_certificate_route(name: str) -> Response[Any]:
    """Revoke at the CA with an RFC 5280 reason; the record, S3 and ACM copies are marked revoked."""
    name = path_name(name)
    permit, cert = certificate_access(name)
    query()
    body = json_body(fields=("reason",))
    reason = RevocationReason.parse(body.get("reason"))
    services = composition.services()
    serial = cert.state.serial

    def revoke() -> dict[str, Any]:
        revoked = revoke_certificate(name, reason, services)
        permit.record()
        view = {**certificate_view(revoked), "revocation": {"reason": reason.value, "code": reason.code}}
        return reply(HTTPStatus.OK, view)

    return run_once(revoke, body, target=serial)


# -- errors → HTTP ---------------------------------------------------------------------------------

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
    return next(
        (status for kind, status in STATUS_BY_ERROR if isinstance(error, kind)), HTTPStatus.INTERNAL_SERVER_ERROR
    )


def _error(status: HTTPStatus, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(status, content_types.APPLICATION_JSON, body, headers or {})


def _request_id() -> str:
    return str(router.current_event.request_context.request_id)


@router.exception_handler(AcmeVaultError)  # type: ignore[untyped-decorator]  # unannotated in Powertools
def acmevault_error(error: AcmeVaultError) -> Response[Any]:
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
    event = router.current_event
    message = f"no route {event.http_method[:10]} {_shown_path(event.path)} (routes: openapi.yaml)"
    return _error(HTTPStatus.NOT_FOUND, {"error": "not_found", "message": message})


def _shown_path(path: str) -> str:
    """The path of a request no route takes, each segment that is not a plain word shown by its length."""
    segments = path[:512].split("/")
    return "/".join(s if _SHOWN_SEGMENT.fullmatch(s) else f"<{len(s)} characters>" for s in segments)


@router.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected_error(error: Exception) -> Response[Any]:
    # The type and where (file:line in function), never the text or source: either may quote a value.
    frames = [f"{f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(error.__traceback__)]
    log.error("unexpected error", extra={"error_type": type(error).__name__, "frames": frames})
    body = {
        "error": "internal_error",
        "message": "something unexpected went wrong; the request id finds it in the logs",
        "request_id": _request_id(),
    }
    return _error(HTTPStatus.INTERNAL_SERVER_ERROR, body)
