"""Rotate a directory's credential, or mark it lost: `acmevault directory rotate|revoke`, POST
/directories/{name}/rotate|revoke, and the Secrets Manager rotation function (functions/rotate).

Two rotations, one protocol: Secrets Manager's four steps, so a scheduled rotation (Secrets
Manager calling functions/rotate) and one a person asks for run the same code.

    createSecret   build the new credential set and stage it as AWSPENDING (its version id = the token)
                     key rollover:  the current set with a new account key
                     replacement:   the new URL, KID and HMAC (from the operator, or made by
                                    CertCentral) with a new account key, saved as a draft version
                                    first, then registered with EAB at the new directory: a
                                    credential the CA refuses never reaches AWSPENDING
    setSecret      key rollover: the key change at the CA (RFC 8555 §7.3.5), unless it happened already
    testSecret     the pending set works at its CA: its key controls its account, and it is valid
    finishSecret   AWSCURRENT → the new set (AWSPREVIOUS → the old one); for a replacement then:
                   queue every certificate the old account issued for re-issue, deactivate the old
                   account (RFC 8555 §7.3.6), revoke the lost credential at CertCentral; an event and
                   the history say what happened

Each step is idempotent per token and notes its progress on the directory's record
(``Rotation.done``), so a rotation killed anywhere ends consistent when run again. A rotation that
fails before its new set becomes current leaves AWSCURRENT — and the CA's view of it — untouched.

Marking a directory lost (``mark_lost``) stops issuance from it at once (``Accounts.session``),
deactivates its account and tells people (event, SNS). With ``revoke_previous``, a replacement
revokes the old account's certificates, each only once its replacement is in ACM and S3
(``complete_revocations``, run when the issue worker announces the new certificate).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from acmevault.adapters.acme.session import AcmeSession, generate_account_key
from acmevault.adapters.certcentral import CertCentral
from acmevault.app.issuance import Services
from acmevault.app.notices import Alert, Notice, tell
from acmevault.app.revocation import revoke_at_issuer
from acmevault.domain.certificate import Status
from acmevault.domain.directory import DirectoryCredential, DirectoryState, DirectoryStatus, Rotation, RotationKind
from acmevault.domain.errors import (
    AcmeVaultError,
    CaError,
    CertificateNotFound,
    ConflictError,
    DirectoryLost,
    RotationFailed,
    Unauthorized,
    UnavailableError,
    ValidationError,
)
from acmevault.domain.quoting import quoted
from acmevault.domain.validation import validate_name
from acmevault.ports import CredentialVersions, DirectoryRecords, IssueRequests, KeyArchive

log = logging.getLogger(__name__)

CURRENT, PENDING = "AWSCURRENT", "AWSPENDING"
DRAFT = "ACMEVAULT_DRAFT"  # a new credential with its account key, saved before its account is registered
_DRAFTS = uuid.UUID("5b0f3c1e-7a61-4c55-9a57-0f2b8f5c7e11")  # draft version id = uuid5(this, token)
SCHEDULE_ACTOR = "secretsmanager (rotation schedule)"
SUPERSEDED = 4  # RFC 5280 CRLReason for a certificate replaced by a new one
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
# A Secrets Manager version id (ClientRequestToken): 32-64 printable ASCII characters, no spaces.
_VERSION_ID = re.compile(r"\A[!-~]{32,64}\Z", re.ASCII)


@dataclass(frozen=True)
class RotationServices:
    """What the rotation use cases talk to; built once per container by acmevault.composition.services."""

    services: Services
    secrets: CredentialVersions
    records: DirectoryRecords
    queue: IssueRequests
    keys: KeyArchive
    certcentral: Callable[[], CertCentral] | None = None  # None: CertCentral is not configured


@dataclass(frozen=True)
class NewCredential:
    """What a lost-URL replacement asks for: a credential from the operator, or one CertCentral makes."""

    credential: DirectoryCredential | None  # None: ask CertCentral for one
    revoke_previous: bool = False

    @property
    def source(self) -> str:
        return "operator" if self.credential is not None else "certcentral"


# -- the use cases a person asks for ------------------------------------------------------------


def rotate_account_key(name: str, ctx: RotationServices, actor: str) -> Rotation:
    """Roll the directory's ACME account over to a new key; the old key stops working at the CA.

    Afterwards AWSCURRENT holds the new key and AWSPREVIOUS the old. An interrupted rollover of
    the same directory is resumed rather than started again.
    """
    return _run(name, None, ctx, actor)


def replace_credential(name: str, request: NewCredential, ctx: RotationServices, actor: str) -> Rotation:
    """Replace a lost (or leaked) directory URL / EAB credential with a new one and a new account.

    The new credential must register an account at its directory before it is staged; once it is
    current, the old account is deactivated and every certificate it issued is queued for re-issue.
    Running the same replacement again resumes it, or, when it is done, changes nothing.
    """
    return _run(name, request, ctx, actor)


def mark_lost(name: str, ctx: RotationServices, actor: str, reason: str | None = None) -> DirectoryState:
    """The credential is lost: stop issuing from it, deactivate its account, tell people.

    Issuance fails at once with an error telling the operator to rotate; the certificates already
    issued stay valid and served. Safe to run again (the account is then deactivated already).
    """
    credential = _current(name, ctx)
    rotation = ctx.records.rotation(name)
    if rotation is not None and not rotation.finished and rotation.kind is RotationKind.KEY_ROLLOVER:
        _settle(name, rotation, ctx, actor, abandon_replacement=False)  # deactivate with the key the CA holds
        credential = _current(name, ctx)
    state = ctx.records.state(name)
    changed = not state.lost
    if changed:
        state = replace(state, status=DirectoryStatus.LOST, changed_at=_now(ctx), changed_by=actor, reason=reason)
        ctx.records.set_state(name, state)
    ctx.services.accounts.forget(name)
    deactivated = _deactivate(credential)
    _history(name, ctx, actor, "marked lost", "ok", reason=reason, account_url=credential.account_url, **deactivated)
    if changed or deactivated["deactivation"] == "deactivated":
        detail = {
            "directory": name,
            "account_url": credential.account_url,
            "directory_url": credential.directory_url,
            "actor": actor,
            "reason": reason,
            "marked_lost_at": state.changed_at.isoformat() if state.changed_at else None,
            **deactivated,
        }
        tell(
            ctx.services,
            name,
            Notice.DIRECTORY_REVOKED,
            detail,
            Alert(
                f"acmevault: directory {name} marked lost",
                f"The ACME credential of directory {name} ({credential.public_view()['host']}) was marked lost by "
                f"{actor}{f' ({reason})' if reason else ''}. Its account is {deactivated['deactivation']}; nothing is "
                f"issued from it until it is replaced: acmevault directory rotate {name} --url URL --eab-kid KID. "
                "Certificates already issued stay valid and keep being served.",
            ),
        )
    log.warning("directory marked lost", extra={"directory": name, "actor": actor})
    return state


def complete_revocations(name: str, ctx: RotationServices, certificate: str | None = None) -> list[str]:
    """Revoke the certificates a replaced account issued whose replacements are in ACM and S3.

    Never before: an entry waits until its certificate's record shows a new serial from another
    account (the record is written after ACM and S3). Returns the certificates revoked now.
    """
    revoked = []
    for entry in ctx.records.revocations(name, certificate):
        if entry.get("state") != "waiting":
            continue
        try:
            current = ctx.services.certificates.get(entry["certificate"])
        except CertificateNotFound:
            continue  # no longer managed: nothing will replace it, so nothing is revoked
        state = current.state
        replaced = (
            state.status is Status.ISSUED
            and state.serial not in (None, entry["serial"])
            and state.account_url != entry["account_url"]
        )
        if not replaced:
            continue
        _revoke_replaced(name, entry, ctx)
        revoked.append(entry["certificate"])
    return revoked


def revoke_replaced(certificate: str, ctx: RotationServices) -> list[str]:
    """After the issue worker announced a new certificate: revoke the one it replaced, if a rotation
    with revoke_previous is waiting for that (the rotate function, on "Certificate Renewed" events)."""
    try:
        directory = ctx.services.certificates.get(validate_name(certificate, "certificate")).spec.directory
    except CertificateNotFound:
        return []
    return complete_revocations(directory, ctx, certificate)


# -- the Secrets Manager rotation protocol -----------------------------------------------------


def run_step(secret_id: str, token: str, step: str, ctx: RotationServices, actor: str = SCHEDULE_ACTOR) -> None:
    """One step of a rotation as Secrets Manager asks for it (functions/rotate)."""
    if not isinstance(secret_id, str) or not secret_id:
        raise ValidationError("SecretId", "is required")
    name = ctx.secrets.name_of(secret_id)
    if not isinstance(token, str) or not _VERSION_ID.fullmatch(token):
        raise ValidationError("ClientRequestToken", "must be a version id of 32 to 64 characters")
    if step == "createSecret":
        create_secret(name, token, ctx, actor)
    elif step == "setSecret":
        set_secret(name, token, ctx, actor)
    elif step == "testSecret":
        test_secret(name, token, ctx, actor)
    elif step == "finishSecret":
        finish_secret(name, token, ctx, actor)
    else:
        raise ValidationError("Step", f"{quoted(step)} is not one of: {', '.join(STEPS)}")


def create_secret(
    name: str, token: str, ctx: RotationServices, actor: str, request: NewCredential | None = None
) -> Rotation:
    """Stage the new credential set as AWSPENDING under ``token``; nothing is staged twice.

    Without a request (the schedule): a key rollover, or, for a directory marked lost, a
    replacement CertCentral makes when it is configured.
    """
    stages = ctx.secrets.stages(name)
    if CURRENT in stages.get(token, ()):
        return _rotation_for(name, token, ctx)
    if token in stages and PENDING not in stages[token]:
        raise ValidationError("ClientRequestToken", f"version {token} of directory {name!r} is not AWSPENDING")
    rotation = ctx.records.rotation(name)
    if rotation is not None and rotation.token != token and not rotation.finished:
        _settle(name, rotation, ctx, actor, abandon_replacement=request is not None)
        rotation = None
    staged = ctx.secrets.get_version(name, token) if token in stages else None
    if rotation is not None and rotation.token == token and staged is not None:
        _drop_draft(name, token, stages, ctx)
        return rotation  # created already: a retry
    if staged is not None:
        return _adopt(name, token, staged, ctx, actor)
    if rotation is None or rotation.token != token:
        rotation = _start(name, token, ctx, actor, request)
    try:
        staged, rotation = _build(name, rotation, request, ctx)
    except (CaError, ValidationError) as error:
        _abandon(name, ctx.records.rotation(name) or rotation, ctx, actor, f"the new credential: {error.message}")
        raise
    ctx.secrets.put_version(name, token, staged, PENDING)
    _drop_draft(name, token, ctx.secrets.stages(name), ctx)
    staged_rotation = replace(rotation, directory_url=staged.directory_url, account_url=staged.account_url)
    rotation = _save(name, staged_rotation.step("created"), ctx)
    _history(name, ctx, actor, "credential staged", "ok", **_facts(rotation), **_public(staged))
    return rotation


def set_secret(name: str, token: str, ctx: RotationServices, actor: str) -> None:
    """Make the CA hold the pending set: for a key rollover, the key change (skipped when done)."""
    if _is_current(name, token, ctx):
        return
    rotation = _rotation_for(name, token, ctx)
    pending = _pending(name, token, ctx)
    if rotation.kind is RotationKind.KEY_ROLLOVER and not _ca_accepts(pending):
        current = _version(name, rotation.previous_version, ctx)
        assert current.account_key is not None
        AcmeSession(current, current.account_key).change_key(_key(pending))
        _history(name, ctx, actor, "account key rolled over at the CA", "ok", **_facts(rotation))
    if "set" not in rotation.done:
        _save(name, rotation.step("set"), ctx)


def test_secret(name: str, token: str, ctx: RotationServices, actor: str) -> None:
    """The pending set works at its CA: its key controls its account, and the account is valid.

    RotationFailed otherwise; AWSCURRENT stays as it is.
    """
    if _is_current(name, token, ctx):
        return
    rotation = _rotation_for(name, token, ctx)
    pending = _pending(name, token, ctx)
    problem = _problem_with(pending)
    if problem is not None:
        _history(name, ctx, actor, "pending credential tested", "failed", error=problem, **_facts(rotation))
        raise RotationFailed(
            f"directory {name!r}: the pending credential (version {token}) {problem}; the current one is unchanged"
        )
    if "tested" not in rotation.done:
        _save(name, rotation.step("tested"), ctx)
        _history(name, ctx, actor, "pending credential tested", "ok", **_facts(rotation))


def finish_secret(name: str, token: str, ctx: RotationServices, actor: str) -> Rotation:
    """Make the tested set current, then finish what a replacement leaves to do (each step once)."""
    rotation = _rotation_for(name, token, ctx)
    if not _is_current(name, token, ctx):
        _pending(name, token, ctx)
        if "tested" not in rotation.done:
            raise ConflictError(f"directory {name!r}: version {token} was not tested; run testSecret first")
        if rotation.kind is RotationKind.REPLACEMENT and rotation.revoke_previous:
            _note_revocations(name, rotation, ctx)  # before the new account issues anything
        ctx.secrets.promote(name, token)
    if "promoted" not in rotation.done:
        state = replace(ctx.records.state(name), generation=token)
        if rotation.kind is RotationKind.REPLACEMENT:
            state = replace(
                state,
                status=DirectoryStatus.ACTIVE,
                changed_at=_now(ctx),
                changed_by=actor,
                reason="credential replaced",
                certcentral_key_id=rotation.certcentral_key_id,
            )
        ctx.records.set_state(name, state)
        ctx.services.accounts.forget(name)
        rotation = _save(name, rotation.step("promoted"), ctx)
        _history(name, ctx, actor, "new credential made current", "ok", **_facts(rotation))
    if rotation.kind is RotationKind.REPLACEMENT:
        rotation = _after_replacement(name, rotation, ctx, actor)
    if not rotation.finished:
        rotation = _save(name, replace(rotation, finished_at=_now(ctx), outcome="rotated"), ctx)
        tell(ctx.services, name, Notice.DIRECTORY_ROTATED, _event(name, rotation))
        _history(name, ctx, actor, "rotation finished", "ok", **_facts(rotation))
        log.info("directory rotated", extra={"directory": name, "kind": rotation.kind.value})
    return rotation


# -- how the steps are run for a person ----------------------------------------------------------


def _run(name: str, request: NewCredential | None, ctx: RotationServices, actor: str) -> Rotation:
    token = _token_for(name, request, ctx, actor)
    try:
        create_secret(name, token, ctx, actor, request)
        set_secret(name, token, ctx, actor)
        test_secret(name, token, ctx, actor)
        return finish_secret(name, token, ctx, actor)
    except UnavailableError:
        raise  # nothing is lost: running the same rotation again resumes it
    except AcmeVaultError as error:
        rotation = ctx.records.rotation(name)
        if rotation is not None and rotation.token == token and not rotation.finished and _droppable(rotation):
            _abandon(name, rotation, ctx, actor, error.message)
        raise


def _droppable(rotation: Rotation) -> bool:
    """Whether a failed rotation can be dropped: not once its set is current, nor once the CA holds a new key."""
    return "promoted" not in rotation.done and not (
        rotation.kind is RotationKind.KEY_ROLLOVER and "set" in rotation.done
    )


def _token_for(name: str, request: NewCredential | None, ctx: RotationServices, actor: str) -> str:
    """The rotation to run: the same one again when it was interrupted (or, for a replacement, done)."""
    current = _current(name, ctx)
    rotation = ctx.records.rotation(name)
    if rotation is not None and _same(name, rotation, request, ctx):
        # Interrupted: resume it. A replacement done already with this very credential: nothing to do.
        done_already = rotation.outcome == "rotated" and request is not None and _replaced_by(current, request)
        if not rotation.finished or done_already:
            return rotation.token
    if rotation is not None and not rotation.finished:
        if rotation.kind is RotationKind.REPLACEMENT and request is None and "promoted" not in rotation.done:
            raise ConflictError(
                f"directory {name!r}: a replacement of its credential is in progress; run it again to finish it"
            )
        _settle(name, rotation, ctx, actor, abandon_replacement=True)
    if request is None and ctx.records.state(name).lost:
        raise DirectoryLost(name)
    return str(uuid.uuid4())


def _same(name: str, rotation: Rotation, request: NewCredential | None, ctx: RotationServices) -> bool:
    if request is None:
        return rotation.kind is RotationKind.KEY_ROLLOVER
    if rotation.kind is not RotationKind.REPLACEMENT:
        return False
    if request.credential is None:
        return rotation.source == "certcentral"
    staged = ctx.secrets.get_version(name, rotation.token) or ctx.secrets.get_version(name, _draft_id(rotation.token))
    return staged is not None and _replaced_by(staged, request)


def _replaced_by(credential: DirectoryCredential, request: NewCredential) -> bool:
    wanted = request.credential
    return wanted is not None and (credential.directory_url, credential.eab_kid) == (
        wanted.directory_url,
        wanted.eab_kid,
    )


def _settle(name: str, rotation: Rotation, ctx: RotationServices, actor: str, abandon_replacement: bool) -> None:
    """An unfinished rotation another one would overtake: finish it if the CA has moved on, else drop it."""
    if "promoted" in rotation.done:
        finish_secret(name, rotation.token, ctx, actor)
        return
    if rotation.kind is RotationKind.KEY_ROLLOVER:
        pending = ctx.secrets.get_version(name, rotation.token)
        if pending is not None and _ca_accepts(pending):
            # The CA holds the new key already: the old one is useless, so this rollover must finish.
            test_secret(name, rotation.token, ctx, actor)
            finish_secret(name, rotation.token, ctx, actor)
            return
    elif not abandon_replacement:
        return
    _abandon(name, rotation, ctx, actor, "overtaken by a newer rotation")


def _abandon(name: str, rotation: Rotation, ctx: RotationServices, actor: str, why: str) -> None:
    """Drop an unfinished rotation: its pending set never becomes current."""
    stages = ctx.secrets.stages(name)
    if PENDING in stages.get(rotation.token, ()) and CURRENT not in stages.get(rotation.token, ()):
        ctx.secrets.remove_stage(name, PENDING, rotation.token)
    _drop_draft(name, rotation.token, stages, ctx)
    _save(name, replace(rotation, finished_at=_now(ctx), outcome="abandoned"), ctx)
    _history(name, ctx, actor, "rotation abandoned", "failed", error=why, **_facts(rotation))
    log.warning("rotation abandoned", extra={"directory": name, "kind": rotation.kind.value})


# -- building the new credential set --------------------------------------------------------------


def _start(name: str, token: str, ctx: RotationServices, actor: str, request: NewCredential | None) -> Rotation:
    previous = ctx.secrets.version_with(name, CURRENT)
    assert previous is not None, "a directory secret always has a current version"
    current = _version(name, previous, ctx)
    state = ctx.records.state(name)
    if request is None and state.lost:
        if ctx.certcentral is None:
            raise DirectoryLost(name)
        request = NewCredential(None)  # the schedule, for a lost directory: CertCentral makes the new one
    kind = RotationKind.KEY_ROLLOVER if request is None else RotationKind.REPLACEMENT
    if kind is RotationKind.KEY_ROLLOVER and current.needs_registration:
        raise ConflictError(f"directory {name!r} has no ACME account yet: there is no account key to roll over")
    rotation = Rotation(
        token=token,
        kind=kind,
        actor=actor,
        started_at=_now(ctx),
        previous_version=previous,
        previous_account_url=current.account_url,
        source=("schedule" if actor == SCHEDULE_ACTOR else "operator") if request is None else request.source,
        directory_url=current.directory_url if request is None or request.credential is None else None,
        revoke_previous=request is not None and request.revoke_previous,
        previous_certcentral_key_id=state.certcentral_key_id,
    )
    if request is not None and request.credential is not None:
        rotation = replace(rotation, directory_url=request.credential.directory_url)
    rotation = _save(name, rotation, ctx)
    _history(name, ctx, actor, "rotation started", "ok", **_facts(rotation))
    return rotation


def _adopt(name: str, token: str, staged: DirectoryCredential, ctx: RotationServices, actor: str) -> Rotation:
    """A set staged as AWSPENDING outside acmevault (by hand, in the console): rotate to it as it is.

    It is never rewritten (a version's value is fixed); testSecret decides whether it works.
    """
    previous = ctx.secrets.version_with(name, CURRENT)
    assert previous is not None, "a directory secret always has a current version"
    current = _version(name, previous, ctx)
    same_account = staged.account_url is not None and (
        staged.directory_url,
        staged.eab_kid,
        staged.account_url,
    ) == (current.directory_url, current.eab_kid, current.account_url)
    rotation = Rotation(
        token=token,
        kind=RotationKind.KEY_ROLLOVER if same_account else RotationKind.REPLACEMENT,
        actor=actor,
        started_at=_now(ctx),
        previous_version=previous,
        previous_account_url=current.account_url,
        source="staged",
        directory_url=staged.directory_url,
        account_url=staged.account_url,
        previous_certcentral_key_id=ctx.records.state(name).certcentral_key_id,
        done=("created",),
    )
    rotation = _save(name, rotation, ctx)
    _history(name, ctx, actor, "staged credential taken up", "ok", **_facts(rotation), **_public(staged))
    return rotation


def _build(
    name: str, rotation: Rotation, request: NewCredential | None, ctx: RotationServices
) -> tuple[DirectoryCredential, Rotation]:
    current = _version(name, rotation.previous_version, ctx)
    if rotation.kind is RotationKind.KEY_ROLLOVER:
        return replace(current, account_key=generate_account_key()), rotation
    draft = ctx.secrets.get_version(name, _draft_id(rotation.token))
    if draft is None:
        candidate = request.credential if request is not None else None
        if candidate is None:
            made = _certcentral(ctx).create_acme_credential(name, rotation.previous_certcentral_key_id)
            rotation = _save(name, replace(rotation, certcentral_key_id=made.key_id), ctx)
            candidate = made.credential
        contact = candidate.contact or current.contact
        # A replacement keeps the directory's kind: an SXG directory's new credential is SXG too
        sxg = candidate.sxg or current.sxg
        draft = replace(candidate, contact=contact, sxg=sxg, account_key=generate_account_key(), account_url=None)
        ctx.secrets.put_version(name, _draft_id(rotation.token), draft, DRAFT)
    assert draft.account_key is not None
    # The key is saved before the account exists: a registration repeated after a crash finds the
    # same account instead of spending the EAB credential (single-use at some CAs) on a second one.
    account_url = AcmeSession(draft, draft.account_key).register()
    return draft.with_account(draft.account_key, account_url), rotation


def _certcentral(ctx: RotationServices) -> CertCentral:
    if ctx.certcentral is None:
        raise ValidationError(
            "certcentral", "CertCentral is not configured (set ACMEVAULT_CERTCENTRAL_SECRET to its API key's secret)"
        )
    return ctx.certcentral()


# -- what a replacement does once the new set is current -----------------------------------------


def _after_replacement(name: str, rotation: Rotation, ctx: RotationServices, actor: str) -> Rotation:
    previous = ctx.secrets.get_version(name, rotation.previous_version)
    if "queued" not in rotation.done:
        serials = {
            c.spec.name: c.state.serial
            for c in ctx.services.certificates.all()
            if c.spec.directory == name
            and c.state.account_url is not None
            and c.state.account_url == rotation.previous_account_url
            and c.state.status is not Status.REVOKED
        }
        names = list(serials)
        ctx.queue.send(names, reason="directory-rotated", serials=serials)  # a redelivery re-issues nothing
        rotation = _save(name, rotation.step("queued"), ctx)
        _history(name, ctx, actor, "certificates queued for re-issue", "ok", certificates=names, **_facts(rotation))
    if "deactivated" not in rotation.done:
        outcome = _deactivate(previous) if previous is not None else {"deactivation": "no previous account"}
        rotation = _save(name, rotation.step("deactivated"), ctx)
        _history(name, ctx, actor, "previous account deactivated", "ok", **outcome, **_facts(rotation))
    lost_key = rotation.previous_certcentral_key_id
    if lost_key is not None and ctx.certcentral is not None and "certcentral" not in rotation.done:
        _certcentral(ctx).revoke_key(lost_key)
        rotation = _save(name, rotation.step("certcentral"), ctx)
        _history(name, ctx, actor, "lost credential revoked at CertCentral", "ok", lost_certcentral_key_id=lost_key)
    return rotation


def _deactivate(credential: DirectoryCredential) -> dict[str, str]:
    """Deactivate the credential's account; one the CA refuses to act for is as good as deactivated."""
    if credential.account_key is None or credential.account_url is None:
        return {"deactivation": "no account"}
    try:
        AcmeSession(credential, credential.account_key).deactivate()
    except Unauthorized:
        return {"deactivation": "refused by the CA (deactivated already)"}
    return {"deactivation": "deactivated"}


def _note_revocations(name: str, rotation: Rotation, ctx: RotationServices) -> None:
    """Remember the old account's certificates, to revoke each once its replacement is served, at the
    directory that issued each (recorded with it; before that was recorded: the credential in use now)."""
    in_use = _current(name, ctx).directory_url  # still the old credential: the new one is promoted after this
    for cert in ctx.services.certificates.all():
        state = cert.state
        if (
            cert.spec.directory == name
            and state.account_url == rotation.previous_account_url
            and state.serial is not None
            and state.certificate_pem is not None
            and state.status is not Status.REVOKED
        ):
            entry = {
                "serial": state.serial,
                "certificate_pem": state.certificate_pem,  # public; the key stays in S3
                "account_url": state.account_url,
                "directory_url": state.issuer_directory_url or in_use,
                "token": rotation.token,
                "noted_at": _now(ctx).isoformat(),
            }
            ctx.records.add_revocation(name, cert.spec.name, entry)


def _revoke_replaced(name: str, entry: dict[str, Any], ctx: RotationServices) -> None:
    certificate, pem = entry["certificate"], entry["certificate_pem"]
    key_pem = ctx.keys.find_private_key(certificate, pem)
    if key_pem is None:
        ctx.records.settle_revocation(name, certificate, "failed", error="its private key is no longer in S3")
        _history(name, ctx, "acmevault", "previous certificate revoked", "failed", certificate=certificate)
        return
    # At the CA that issued it (an entry noted before issuers were recorded: the previous credential's),
    # signed with the certificate's own key: no account is needed, the old one is gone.
    issuer = entry.get("directory_url") or _previous_directory_url(name, ctx)
    revoke_at_issuer(issuer, pem, key_pem, SUPERSEDED)
    now = _now(ctx).isoformat()
    ctx.records.settle_revocation(name, certificate, "revoked", revoked_at=now)
    mark = {"serial": entry["serial"], "reason": "superseded", "revoked_at": now}
    ctx.services.certificates.add_history(certificate, {"action": "previous certificate revoked", "at": now, **mark})
    _history(name, ctx, "acmevault", "previous certificate revoked", "ok", certificate=certificate, **mark)
    revoked = {"certificate": certificate, "serial": entry["serial"], "reason": "superseded", "revoked_at": now}
    tell(ctx.services, certificate, Notice.CERTIFICATE_REVOKED, revoked)


# -- small helpers -------------------------------------------------------------------------------


def _now(ctx: RotationServices) -> datetime:
    return ctx.services.clock()


def _draft_id(token: str) -> str:
    return str(uuid.uuid5(_DRAFTS, token))


def _drop_draft(name: str, token: str, stages: dict[str, tuple[str, ...]], ctx: RotationServices) -> None:
    """The draft's label goes once the set is staged (or dropped); Secrets Manager deletes it in time."""
    if DRAFT in stages.get(_draft_id(token), ()):
        ctx.secrets.remove_stage(name, DRAFT, _draft_id(token))


def _save(name: str, rotation: Rotation, ctx: RotationServices) -> Rotation:
    ctx.records.save_rotation(name, rotation)
    return rotation


def _rotation_for(name: str, token: str, ctx: RotationServices) -> Rotation:
    rotation = ctx.records.rotation(name)
    if rotation is None or rotation.token != token:
        raise ConflictError(f"directory {name!r}: no rotation with token {token} was started (createSecret first)")
    return rotation


def _is_current(name: str, token: str, ctx: RotationServices) -> bool:
    return CURRENT in ctx.secrets.stages(name).get(token, ())


def _version(name: str, version_id: str, ctx: RotationServices) -> DirectoryCredential:
    credential = ctx.secrets.get_version(name, version_id)
    if credential is None:
        raise ConflictError(f"directory {name!r}: version {version_id} of its secret is gone")
    return credential


def _previous_directory_url(name: str, ctx: RotationServices) -> str:
    """The directory URL of the credential a replacement made previous (the current one if there is none)."""
    version = ctx.secrets.version_with(name, "AWSPREVIOUS")
    return (_version(name, version, ctx) if version is not None else _current(name, ctx)).directory_url


def _current(name: str, ctx: RotationServices) -> DirectoryCredential:
    """The credential in use, read now (a cached copy could be a rotation old)."""
    version = ctx.secrets.version_with(name, CURRENT)
    assert version is not None, "a directory secret always has a current version"
    return _version(name, version, ctx)


def _pending(name: str, token: str, ctx: RotationServices) -> DirectoryCredential:
    if PENDING not in ctx.secrets.stages(name).get(token, ()):
        raise ConflictError(f"directory {name!r}: version {token} is not AWSPENDING")
    return _version(name, token, ctx)


def _key(credential: DirectoryCredential) -> str:
    assert credential.account_key is not None
    return credential.account_key


def _ca_accepts(credential: DirectoryCredential) -> bool:
    """Whether the CA knows the credential's key as its account's key (a rollover that took place)."""
    if credential.account_key is None or credential.account_url is None:
        return False
    try:
        found = AcmeSession(credential, credential.account_key).find_account()
    except CaError:
        return False
    return found is not None and found.url == credential.account_url


def _problem_with(credential: DirectoryCredential) -> str | None:
    """What keeps a credential set from working at its CA, or None."""
    if credential.account_key is None or credential.account_url is None:
        return "has no ACME account (a new credential is staged only after its account is registered)"
    try:
        found = AcmeSession(credential, credential.account_key).find_account()
    except CaError as error:
        return f"is refused by the CA: {error.message}"
    if found is None:
        return f"has a key the CA at {credential.directory_url} knows no account for"
    if found.url != credential.account_url:
        return f"has a key that belongs to another account ({found.url})"
    if found.status != "valid":
        return f"has an account that is {found.status}"
    return None


def _public(credential: DirectoryCredential) -> dict[str, Any]:
    view = credential.public_view()
    return {"directory_url": view["directory_url"], "eab_kid": view["eab_kid"], "account_url": view["account_url"]}


def _facts(rotation: Rotation) -> dict[str, Any]:
    return {
        "kind": rotation.kind.value,
        "token": rotation.token,
        "source": rotation.source,
        "certcentral_key_id": rotation.certcentral_key_id,
    }


def _history(name: str, ctx: RotationServices, actor: str, action: str, outcome: str, **detail: Any) -> None:
    entry = {"at": _now(ctx).isoformat(), "actor": actor, "action": action, "outcome": outcome}
    entry.update({k: v for k, v in detail.items() if v is not None and k not in entry})
    ctx.records.add_history(name, entry)


def _event(name: str, rotation: Rotation) -> dict[str, Any]:
    return {
        "directory": name,
        "kind": rotation.kind.value,
        "source": rotation.source,
        "actor": rotation.actor,
        "directory_url": rotation.directory_url,
        "account_url": rotation.account_url,
        "previous_account_url": rotation.previous_account_url,
        "revoke_previous": rotation.revoke_previous,
        "token": rotation.token,
        "rotated_at": rotation.finished_at.isoformat() if rotation.finished_at else None,
    }
