"""Certificates a replaced account issued, revoked once their replacements are served (``revoke_previous``).

A replacement notes them (``note_superseded``) just before its new set becomes current; each is revoked
only when its certificate's record shows a new serial from another account, which the issue worker writes
after ACM and S3 (``complete_revocations``, run on its "Certificate Renewed" event: ``revoke_replaced``).
The revocation is signed with the certificate's own key, at the directory that issued it: the old
account is deactivated by then.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import replace

from acmevault.app.notices import Notice, tell
from acmevault.app.rotation.ledger import Outcome, current, note, now, previous_directory_url
from acmevault.app.rotation.notices import superseded_revoked_detail
from acmevault.app.rotation.services import RotationServices
from acmevault.domain.certificate import Status
from acmevault.domain.directory import RevocationState, Rotation, SupersededCertificate
from acmevault.domain.errors import AlreadyRevoked, CertificateNotFound
from acmevault.domain.validation import validate_name

log = logging.getLogger(__name__)

SUPERSEDED = 4  # RFC 5280 CRLReason for a certificate replaced by a new one
ACTOR = "acmevault"  # who revokes them, in the history


def note_superseded(name: str, rotation: Rotation, ctx: RotationServices) -> None:
    """Remember the old account's certificates, to revoke each once its replacement is served, at the
    directory that issued each (recorded with it; before that was recorded: the credential in use now)."""
    in_use = current(name, ctx).directory_url  # still the old credential: the new one is promoted after this
    for cert in ctx.certificates.all():
        state = cert.state
        if (
            cert.spec.directory == name
            and state.account_url == rotation.previous_account_url
            and state.serial is not None
            and state.certificate_pem is not None
            and state.status is not Status.REVOKED
        ):
            entry = SupersededCertificate(
                certificate=cert.spec.name,
                serial=state.serial,
                certificate_pem=state.certificate_pem,  # public; the key stays in S3
                account_url=state.account_url,
                directory_url=state.issuer_directory_url or in_use,
                token=rotation.token,
                noted_at=now(ctx),
            )
            ctx.records.add_revocation(name, entry)


def complete_revocations(name: str, ctx: RotationServices, certificate: str | None = None) -> list[str]:
    """Revoke the certificates a replaced account issued whose replacements are in ACM and S3.

    Never before: an entry waits until its certificate's record shows a new serial from another
    account (the record is written after ACM and S3). Returns the certificates revoked now.
    """
    revoked = []
    for entry in ctx.records.revocations(name, certificate):
        if entry.state is not RevocationState.WAITING:
            continue
        try:
            state = ctx.certificates.get(entry.certificate).state
        except CertificateNotFound:
            continue  # no longer managed: nothing will replace it, so nothing is revoked
        replaced = (
            state.status is Status.ISSUED
            and state.serial not in (None, entry.serial)
            and state.account_url != entry.account_url
        )
        if replaced and _revoke(name, entry, ctx):
            revoked.append(entry.certificate)
    return revoked


def revoke_replaced(certificate: str, ctx: RotationServices) -> list[str]:
    """After the issue worker announced a new certificate: revoke the one it replaced, if a rotation
    with revoke_previous is waiting for that (the rotate function, on "Certificate Renewed" events)."""
    try:
        directory = ctx.certificates.get(validate_name(certificate, "certificate")).spec.directory
    except CertificateNotFound:
        return []
    return complete_revocations(directory, ctx, certificate)


def _revoke(name: str, entry: SupersededCertificate, ctx: RotationServices) -> bool:
    """Revoke the entry's certificate; False when that is given up (its private key is gone)."""
    certificate, pem = entry.certificate, entry.certificate_pem
    key_pem = ctx.keys.find_private_key(certificate, pem)
    if key_pem is None:
        failed = replace(entry, state=RevocationState.FAILED, error="its private key is no longer in S3")
        ctx.records.settle_revocation(name, failed)
        note(name, ctx, ACTOR, "previous certificate revoked", Outcome.FAILED, certificate=certificate)
        return False
    # At the CA that issued it (an entry noted before issuers were recorded: the previous credential's),
    # signed with the certificate's own key: no account is needed, the old one is gone.
    issuer = entry.directory_url or previous_directory_url(name, ctx)
    with suppress(AlreadyRevoked):  # a certificate the CA had revoked already counts as revoked
        ctx.ca.revoke_with_key(issuer, pem, key_pem, SUPERSEDED)
    log.info("certificate revoked at its issuing CA", extra={"directory_url": issuer})
    at = now(ctx)
    ctx.records.settle_revocation(name, replace(entry, state=RevocationState.REVOKED, revoked_at=at))
    mark = {"serial": entry.serial, "reason": "superseded", "revoked_at": at.isoformat()}
    ctx.certificates.add_history(certificate, {"action": "previous certificate revoked", "at": at.isoformat(), **mark})
    note(name, ctx, ACTOR, "previous certificate revoked", Outcome.OK, certificate=certificate, **mark)
    tell(
        ctx,
        certificate,
        Notice.CERTIFICATE_REVOKED,
        superseded_revoked_detail(certificate, entry.serial, mark["revoked_at"]),
    )
    return True
