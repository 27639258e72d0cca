"""What a replacement does once its new set is current, each step once (noted on the rotation): queue
every certificate the old account issued for re-issue, deactivate the old account (RFC 8555 §7.3.6),
and revoke the lost credential at CertCentral when CertCentral made it."""

from __future__ import annotations

from acmevault.app.rotation.account import Deactivation, deactivate
from acmevault.app.rotation.credential import certcentral
from acmevault.app.rotation.ledger import Outcome, facts, note, save
from acmevault.app.rotation.services import RotationServices
from acmevault.domain.certificate import Status
from acmevault.domain.directory import Rotation, RotationStep


def finish_replacement(name: str, rotation: Rotation, ctx: RotationServices, actor: str) -> Rotation:
    """Do what is left of the three steps after a replacement's set became current; the rotation as it then is.

    Raises what the queue, ``CaAccounts.deactivate`` and ``CredentialProvider.revoke_key`` raise; the step
    that failed is not noted, so running the rotation again does it (and none of those before it).
    """
    if RotationStep.QUEUED not in rotation.done:
        serials = {
            c.spec.name: c.state.serial
            for c in ctx.certificates.all()
            if c.spec.directory == name
            and c.state.account_url is not None
            and c.state.account_url == rotation.previous_account_url
            and c.state.status is not Status.REVOKED
        }
        names = list(serials)
        ctx.queue.send(names, reason="directory-rotated", serials=serials)  # a redelivery re-issues nothing
        rotation = save(name, rotation.step(RotationStep.QUEUED), ctx)
        note(name, ctx, actor, "certificates queued for re-issue", Outcome.OK, certificates=names, **facts(rotation))
    if RotationStep.DEACTIVATED not in rotation.done:
        previous = ctx.secrets.get_version(name, rotation.previous_version)
        outcome = deactivate(previous, ctx) if previous is not None else Deactivation.NO_PREVIOUS_ACCOUNT
        rotation = save(name, rotation.step(RotationStep.DEACTIVATED), ctx)
        note(
            name, ctx, actor, "previous account deactivated", Outcome.OK, deactivation=outcome.value, **facts(rotation)
        )
    lost_key = rotation.previous_certcentral_key_id
    if lost_key is not None and ctx.certcentral is not None and RotationStep.CERTCENTRAL not in rotation.done:
        certcentral(ctx).revoke_key(lost_key)
        rotation = save(name, rotation.step(RotationStep.CERTCENTRAL), ctx)
        note(name, ctx, actor, "lost credential revoked at CertCentral", Outcome.OK, lost_certcentral_key_id=lost_key)
    return rotation
