"""Marking a directory's credential lost (`acmevault directory revoke`, POST /directories/{name}/revoke).

Issuance from it stops at once (``Accounts.session`` raises DirectoryLost), its account is deactivated,
and people are told ("Directory Revoked", an SNS alert) — telling never fails the action. The
certificates it issued stay valid and served until a replacement (``replace_credential``) re-issues them.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from acmevault.app.notices import Notice, tell
from acmevault.app.rotation.account import Deactivation, deactivate
from acmevault.app.rotation.ledger import Outcome, current, note, now
from acmevault.app.rotation.notices import lost_alert, lost_detail
from acmevault.app.rotation.protocol import settle
from acmevault.app.rotation.services import RotationServices
from acmevault.domain.directory import DirectoryState, DirectoryStatus, RotationKind

log = logging.getLogger(__name__)


def mark_lost(name: str, ctx: RotationServices, actor: str, reason: str | None = None) -> DirectoryState:
    """The credential is lost: stop issuing from it, deactivate its account, tell people.

    Issuance fails at once with an error telling the operator to rotate; the certificates already
    issued stay valid and served. Safe to run again (the account is then deactivated already).
    Raises CaUnavailable when the CA cannot be reached to deactivate the account (the directory is
    marked lost already; running it again deactivates it).
    """
    credential = current(name, ctx)
    rotation = ctx.records.rotation(name)
    if rotation is not None and not rotation.finished and rotation.kind is RotationKind.KEY_ROLLOVER:
        settle(name, rotation, ctx, actor, abandon_replacement=False)  # deactivate with the key the CA holds
        credential = current(name, ctx)
    state = ctx.records.state(name)
    changed = not state.lost
    if changed:
        state = replace(state, status=DirectoryStatus.LOST, changed_at=now(ctx), changed_by=actor, reason=reason)
        ctx.records.set_state(name, state)
    ctx.cache.forget(name)
    deactivation = deactivate(credential, ctx)
    note(
        name,
        ctx,
        actor,
        "marked lost",
        Outcome.OK,
        reason=reason,
        account_url=credential.account_url,
        deactivation=deactivation.value,
    )
    if changed or deactivation is Deactivation.DEACTIVATED:
        detail = lost_detail(name, credential, state, actor, reason, deactivation)
        tell(ctx, name, Notice.DIRECTORY_REVOKED, detail, lost_alert(name, credential, actor, reason, deactivation))
    log.warning("directory marked lost", extra={"directory": name, "actor": actor})
    return state
