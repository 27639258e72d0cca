"""Secrets Manager's rotation protocol, four steps per token (the new version's id), each idempotent:

    createSecret   build the new credential set and stage it as AWSPENDING (``credential.py``)
    setSecret      key rollover: the key change at the CA (RFC 8555 §7.3.5), unless it happened already
    testSecret     the pending set works at its CA: its key controls its account, and it is valid
    finishSecret   AWSCURRENT → the new set (AWSPREVIOUS → the old one); a replacement then does the
                   rest (``replacement.py``); an event and the history say what happened

``run_step`` is what functions/rotate calls; a person's rotation (``runner.py``) runs the same steps.
A rotation another one overtakes is settled first (``settle``): finished if the CA has moved on, else
dropped.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from enum import StrEnum

from acmevault.app.notices import Notice, tell
from acmevault.app.rotation.account import ca_accepts, problem_with
from acmevault.app.rotation.credential import adopt, build, start
from acmevault.app.rotation.ledger import (
    CURRENT,
    PENDING,
    Outcome,
    abandon,
    account_key,
    drop_draft,
    facts,
    is_current,
    note,
    now,
    pending,
    public,
    rotation_for,
    save,
    version,
)
from acmevault.app.rotation.notices import rotated_detail
from acmevault.app.rotation.replacement import finish_replacement
from acmevault.app.rotation.services import SCHEDULE_ACTOR, NewCredential, RotationServices
from acmevault.app.rotation.superseded import note_superseded
from acmevault.domain.directory import DirectoryStatus, Rotation, RotationKind, RotationOutcome, RotationStep
from acmevault.domain.errors import CaError, ConflictError, RotationFailed, ValidationError
from acmevault.domain.quoting import quoted

log = logging.getLogger(__name__)

# A Secrets Manager version id (ClientRequestToken): 32-64 printable ASCII characters, no spaces.
_VERSION_ID = re.compile(r"\A[!-~]{32,64}\Z", re.ASCII)


class Step(StrEnum):
    """The rotation steps, as Secrets Manager names them in its event's ``Step``."""

    CREATE = "createSecret"
    SET = "setSecret"
    TEST = "testSecret"
    FINISH = "finishSecret"


def run_step(secret_id: str, token: str, step: str, ctx: RotationServices, actor: str = SCHEDULE_ACTOR) -> None:
    """One step of a rotation as Secrets Manager asks for it (functions/rotate).

    Raises ValidationError for an event that is not a rotation step of a directory secret, and what the
    step raises.
    """
    if not isinstance(secret_id, str) or not secret_id:
        raise ValidationError("SecretId", "is required")
    name = ctx.secrets.name_of(secret_id)
    if not isinstance(token, str) or not _VERSION_ID.fullmatch(token):
        raise ValidationError("ClientRequestToken", "must be a version id of 32 to 64 characters")
    try:
        which = Step(step)
    except ValueError:
        raise ValidationError("Step", f"{quoted(step)} is not one of: {', '.join(Step)}") from None
    match which:
        case Step.CREATE:
            create_secret(name, token, ctx, actor)
        case Step.SET:
            set_secret(name, token, ctx, actor)
        case Step.TEST:
            test_secret(name, token, ctx, actor)
        case Step.FINISH:
            finish_secret(name, token, ctx, actor)


def create_secret(
    name: str, token: str, ctx: RotationServices, actor: str, request: NewCredential | None = None
) -> Rotation:
    """Stage the new credential set as AWSPENDING under ``token``; nothing is staged twice.

    Without a request (the schedule): a key rollover, or, for a directory marked lost, a
    replacement CertCentral makes when it is configured. A new set the CA refuses is never staged:
    the rotation is abandoned and the error raised.
    """
    stages = ctx.secrets.stages(name)
    if CURRENT in stages.get(token, ()):
        return rotation_for(name, token, ctx)
    if token in stages and PENDING not in stages[token]:
        raise ValidationError("ClientRequestToken", f"version {token} of directory {name!r} is not AWSPENDING")
    rotation = ctx.records.rotation(name)
    if rotation is not None and rotation.token != token and not rotation.finished:
        settle(name, rotation, ctx, actor, abandon_replacement=request is not None)
        rotation = None
    staged = ctx.secrets.get_version(name, token) if token in stages else None
    if rotation is not None and rotation.token == token and staged is not None:
        drop_draft(name, token, stages, ctx)
        return rotation  # created already: a retry
    if staged is not None:
        return adopt(name, token, staged, ctx, actor)
    if rotation is None or rotation.token != token:
        rotation = start(name, token, ctx, actor, request)
    try:
        staged, rotation = build(name, rotation, request, ctx)
    except (CaError, ValidationError) as error:
        abandon(name, ctx.records.rotation(name) or rotation, ctx, actor, f"the new credential: {error.message}")
        raise
    ctx.secrets.put_version(name, token, staged, PENDING)
    drop_draft(name, token, ctx.secrets.stages(name), ctx)
    staged_rotation = replace(rotation, directory_url=staged.directory_url, account_url=staged.account_url)
    rotation = save(name, staged_rotation.step(RotationStep.CREATED), ctx)
    note(name, ctx, actor, "credential staged", Outcome.OK, **facts(rotation), **public(staged))
    return rotation


def set_secret(name: str, token: str, ctx: RotationServices, actor: str) -> None:
    """Make the CA hold the pending set: for a key rollover, the key change (skipped when done).

    ConflictError when no rotation with ``token`` was started, or its version is not AWSPENDING.
    """
    if is_current(name, token, ctx):
        return
    rotation = rotation_for(name, token, ctx)
    new = pending(name, token, ctx)
    if rotation.kind is RotationKind.KEY_ROLLOVER and not ca_accepts(new, ctx):
        ctx.ca.change_key(version(name, rotation.previous_version, ctx), account_key(new))
        note(name, ctx, actor, "account key rolled over at the CA", Outcome.OK, **facts(rotation))
    if RotationStep.SET not in rotation.done:
        save(name, rotation.step(RotationStep.SET), ctx)


def test_secret(name: str, token: str, ctx: RotationServices, actor: str) -> None:
    """The pending set works at its CA: its key controls its account, and the account is valid.

    RotationFailed otherwise; AWSCURRENT stays as it is.
    """
    if is_current(name, token, ctx):
        return
    rotation = rotation_for(name, token, ctx)
    problem = problem_with(pending(name, token, ctx), ctx)
    if problem is not None:
        note(name, ctx, actor, "pending credential tested", Outcome.FAILED, error=problem, **facts(rotation))
        raise RotationFailed(
            f"directory {name!r}: the pending credential (version {token}) {problem}; the current one is unchanged"
        )
    if RotationStep.TESTED not in rotation.done:
        save(name, rotation.step(RotationStep.TESTED), ctx)
        note(name, ctx, actor, "pending credential tested", Outcome.OK, **facts(rotation))


def finish_secret(name: str, token: str, ctx: RotationServices, actor: str) -> Rotation:
    """Make the tested set current, then finish what a replacement leaves to do (each step once).

    ConflictError when the set was not tested (AWSCURRENT is then untouched).
    """
    rotation = rotation_for(name, token, ctx)
    if not is_current(name, token, ctx):
        pending(name, token, ctx)
        if RotationStep.TESTED not in rotation.done:
            raise ConflictError(f"directory {name!r}: version {token} was not tested; run testSecret first")
        if rotation.kind is RotationKind.REPLACEMENT and rotation.revoke_previous:
            note_superseded(name, rotation, ctx)  # before the new account issues anything
        ctx.secrets.promote(name, token)
    if RotationStep.PROMOTED not in rotation.done:
        state = replace(ctx.records.state(name), generation=token)
        if rotation.kind is RotationKind.REPLACEMENT:
            state = replace(
                state,
                status=DirectoryStatus.ACTIVE,
                changed_at=now(ctx),
                changed_by=actor,
                reason="credential replaced",
                certcentral_key_id=rotation.certcentral_key_id,
            )
        ctx.records.set_state(name, state)
        ctx.cache.forget(name)
        rotation = save(name, rotation.step(RotationStep.PROMOTED), ctx)
        note(name, ctx, actor, "new credential made current", Outcome.OK, **facts(rotation))
    if rotation.kind is RotationKind.REPLACEMENT:
        rotation = finish_replacement(name, rotation, ctx, actor)
    if not rotation.finished:
        rotation = save(name, rotation.finish(RotationOutcome.ROTATED, now(ctx)), ctx)
        tell(ctx, name, Notice.DIRECTORY_ROTATED, rotated_detail(name, rotation))
        note(name, ctx, actor, "rotation finished", Outcome.OK, **facts(rotation))
        log.info("directory rotated", extra={"directory": name, "kind": rotation.kind.value})
    return rotation


def settle(name: str, rotation: Rotation, ctx: RotationServices, actor: str, abandon_replacement: bool) -> None:
    """An unfinished rotation another one would overtake: finish it if the CA has moved on, else drop it
    (an unfinished replacement only with ``abandon_replacement``; otherwise it is left as it is)."""
    if RotationStep.PROMOTED in rotation.done:
        finish_secret(name, rotation.token, ctx, actor)
        return
    if rotation.kind is RotationKind.KEY_ROLLOVER:
        new = ctx.secrets.get_version(name, rotation.token)
        if new is not None and ca_accepts(new, ctx):
            # The CA holds the new key already: the old one is useless, so this rollover must finish.
            test_secret(name, rotation.token, ctx, actor)
            finish_secret(name, rotation.token, ctx, actor)
            return
    elif not abandon_replacement:
        return
    abandon(name, rotation, ctx, actor, "overtaken by a newer rotation")
