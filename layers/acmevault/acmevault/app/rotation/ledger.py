"""What a rotation reads and notes: the directory secret's versions and staging labels, the rotation on the
directory's record, and the directory's audit history. Dropping a rotation (``abandon``) is noted here too."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from acmevault.app.rotation.services import RotationServices
from acmevault.domain.directory import DirectoryCredential, Rotation, RotationOutcome
from acmevault.domain.errors import ConflictError

log = logging.getLogger(__name__)

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
DRAFT = "ACMEVAULT_DRAFT"  # a new credential with its account key, saved before its account is registered
_DRAFTS = uuid.UUID("5b0f3c1e-7a61-4c55-9a57-0f2b8f5c7e11")  # draft version id = uuid5(this, token)


class Outcome(StrEnum):
    """How an action in the audit history went."""

    OK = "ok"
    FAILED = "failed"


def now(ctx: RotationServices) -> datetime:
    """The time, from the services' clock."""
    return ctx.clock()


def draft_id(token: str) -> str:
    """The version id of a rotation's draft (derived from its token, so a rotation run again finds it)."""
    return str(uuid.uuid5(_DRAFTS, token))


def drop_draft(name: str, token: str, stages: dict[str, tuple[str, ...]], ctx: RotationServices) -> None:
    """The draft's label goes once the set is staged (or dropped); Secrets Manager deletes it in time."""
    if DRAFT in stages.get(draft_id(token), ()):
        ctx.secrets.remove_stage(name, DRAFT, draft_id(token))


def save(name: str, rotation: Rotation, ctx: RotationServices) -> Rotation:
    """Store the rotation on the directory's record, and return it."""
    ctx.records.save_rotation(name, rotation)
    return rotation


def rotation_for(name: str, token: str, ctx: RotationServices) -> Rotation:
    """The rotation started with ``token``; ConflictError when the directory's record holds another."""
    rotation = ctx.records.rotation(name)
    if rotation is None or rotation.token != token:
        raise ConflictError(f"directory {name!r}: no rotation with token {token} was started (createSecret first)")
    return rotation


def is_current(name: str, token: str, ctx: RotationServices) -> bool:
    """Whether version ``token`` is AWSCURRENT."""
    return CURRENT in ctx.secrets.stages(name).get(token, ())


def version(name: str, version_id: str, ctx: RotationServices) -> DirectoryCredential:
    """One version of the directory's secret; ConflictError when it is gone."""
    credential = ctx.secrets.get_version(name, version_id)
    if credential is None:
        raise ConflictError(f"directory {name!r}: version {version_id} of its secret is gone")
    return credential


def current_version(name: str, ctx: RotationServices) -> str:
    """The version id of the credential in use."""
    found = ctx.secrets.version_with(name, CURRENT)
    assert found is not None, "a directory secret always has a current version"
    return found


def current(name: str, ctx: RotationServices) -> DirectoryCredential:
    """The credential in use, read now (a cached copy could be a rotation old)."""
    return version(name, current_version(name, ctx), ctx)


def pending(name: str, token: str, ctx: RotationServices) -> DirectoryCredential:
    """Version ``token``, which must be AWSPENDING (ConflictError otherwise)."""
    if PENDING not in ctx.secrets.stages(name).get(token, ()):
        raise ConflictError(f"directory {name!r}: version {token} is not AWSPENDING")
    return version(name, token, ctx)


def previous_directory_url(name: str, ctx: RotationServices) -> str:
    """The directory URL of the credential a replacement made previous (the current one if there is none)."""
    previous = ctx.secrets.version_with(name, PREVIOUS)
    return (version(name, previous, ctx) if previous is not None else current(name, ctx)).directory_url


def account_key(credential: DirectoryCredential) -> str:
    """The set's account key (a staged set always has one)."""
    assert credential.account_key is not None
    return credential.account_key


def note(name: str, ctx: RotationServices, actor: str, action: str, outcome: Outcome, **detail: Any) -> None:
    """An entry in the directory's audit history: who, when, what, how it went, and the facts (None left out)."""
    entry = {"at": now(ctx).isoformat(), "actor": actor, "action": action, "outcome": outcome.value}
    entry.update({k: v for k, v in detail.items() if v is not None and k not in entry})
    ctx.records.add_history(name, entry)


def facts(rotation: Rotation) -> dict[str, Any]:
    """What the history says of the rotation an entry belongs to."""
    return {
        "kind": rotation.kind.value,
        "token": rotation.token,
        "source": rotation.source.value,
        "certcentral_key_id": rotation.certcentral_key_id,
    }


def public(credential: DirectoryCredential) -> dict[str, Any]:
    """What the history says of a credential set (its KID masked; no secret)."""
    view = credential.public_view()
    return {"directory_url": view["directory_url"], "eab_kid": view["eab_kid"], "account_url": view["account_url"]}


def abandon(name: str, rotation: Rotation, ctx: RotationServices, actor: str, why: str) -> None:
    """Drop an unfinished rotation: its pending set never becomes current."""
    stages = ctx.secrets.stages(name)
    if PENDING in stages.get(rotation.token, ()) and CURRENT not in stages.get(rotation.token, ()):
        ctx.secrets.remove_stage(name, PENDING, rotation.token)
    drop_draft(name, rotation.token, stages, ctx)
    save(name, rotation.finish(RotationOutcome.ABANDONED, now(ctx)), ctx)
    note(name, ctx, actor, "rotation abandoned", Outcome.FAILED, error=why, **facts(rotation))
    log.warning("rotation abandoned", extra={"directory": name, "kind": rotation.kind.value})
