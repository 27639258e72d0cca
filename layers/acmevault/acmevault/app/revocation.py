"""Revoke a certificate at its CA and mark every copy of it; stop managing one (optionally revoking it).

    lease → record → the certificate in S3 (the one serving, checked against the record)
          → revoke at the CA with the directory's account (RFC 8555 §7.6, an RFC 5280 reason)
          → mark the S3 copy (metadata.json) and the ACM copies (tag acmevault:revoked)
          → history → record: REVOKED (serial kept; the sweep no longer renews it) → event

The record is written last: a failure part-way leaves it as it was, and the retry
finds the certificate already revoked at the CA and finishes the marking. A revoked
certificate is never renewed silently; the next action is an explicit re-issue.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import replace
from enum import StrEnum
from typing import Any

from cryptography import x509

from acmevault.app.history import record_history
from acmevault.app.notices import Notice, tell
from acmevault.app.record import lease
from acmevault.app.services import Services
from acmevault.domain.certificate import Certificate, Status
from acmevault.domain.errors import AlreadyRevoked, ConflictError, ValidationError
from acmevault.domain.quoting import quoted

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0  # a revocation is a few requests; a crashed one frees the certificate soon


class RevocationReason(StrEnum):
    """The RFC 5280 CRLReason values a subscriber may give (CA-side reasons are not offered)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"

    @property
    def code(self) -> int:
        """The RFC 5280 CRLReason code the CA is sent."""
        return _CODES[self]

    @classmethod
    def parse(cls, value: Any, field_name: str = "reason") -> RevocationReason:
        """A reason from untrusted input; ValidationError names ``field_name`` when it is missing or unknown."""
        if value is None:
            raise ValidationError(field_name, f"is required (one of: {', '.join(cls)})")
        if not isinstance(value, str) or value not in [r.value for r in cls]:
            raise ValidationError(field_name, f"{quoted(value)} is not one of: {', '.join(cls)}")
        return cls(value)


_CODES = {
    RevocationReason.UNSPECIFIED: 0,
    RevocationReason.KEY_COMPROMISE: 1,
    RevocationReason.AFFILIATION_CHANGED: 3,
    RevocationReason.SUPERSEDED: 4,
    RevocationReason.CESSATION_OF_OPERATION: 5,
}


def revoke_certificate(name: str, reason: RevocationReason, services: Services) -> Certificate:
    """Revoke the certificate serving for ``name``; ConflictError if there is none or it is revoked already."""
    # An issue worker holds the same lease: a renewal never races a revocation of the same certificate.
    with lease(name, services, LEASE_SECONDS) as held:
        return _revoke(held.cert, reason, services, held.owner)


def delete_certificate(name: str, services: Services, revoke: RevocationReason | None = None) -> Certificate | None:
    """Stop managing ``name`` (ACM and S3 copies stay); with ``revoke``, revoke what it serves first.

    Returns the revoked certificate, or None when nothing was revoked (not asked, never issued,
    or revoked already).
    """
    current = services.certificates.get(name)
    revoked = None
    if revoke is not None and current.state.serial is not None and current.state.status is not Status.REVOKED:
        revoked = revoke_certificate(name, revoke, services)
    services.certificates.delete(name)
    record_history(name, {"action": "deleted", "serial": current.state.serial}, services)
    log.info("certificate no longer managed", extra={"certificate": name, "revoked": revoked is not None})
    return revoked


def _revoke(current: Certificate, reason: RevocationReason, services: Services, owner: str) -> Certificate:
    spec, state = current.spec, current.state
    if state.status is Status.REVOKED:
        raise ConflictError(
            f"certificate {spec.name!r} (serial {state.serial}) is revoked already; "
            f"issue a new one with POST /certificates/{spec.name}/renew"
        )
    if state.serial is None:
        raise ConflictError(f"certificate {spec.name!r} has never been issued: there is nothing to revoke")
    pem = services.files.get_certificate_pem(spec.name)
    served = format(x509.load_pem_x509_certificate(pem.encode()).serial_number, "x")
    if served != state.serial:
        # A renewal stopped between S3 and the record: revoking either one could be the wrong one.
        raise ConflictError(
            f"certificate {spec.name!r}: S3 holds serial {served} but the record says {state.serial}; "
            "renew it to finish the interrupted renewal, then revoke"
        )

    credential = services.accounts.require(spec.directory)
    issuer = state.issuer_directory_url or credential.directory_url
    if issuer == credential.directory_url and state.account_url in (None, credential.account_url):
        try:
            services.accounts.session(spec.directory).revoke(pem, reason.code)
        except AlreadyRevoked:
            log.info("the CA had revoked it already; finishing the marking", extra={"certificate": spec.name})
    else:
        # Issued through another directory URL or account (the directory moved since): revoke it there,
        # signed with its own key, which works whatever became of that credential.
        key_pem = services.files.find_private_key(spec.name, pem)
        if key_pem is None:
            raise ConflictError(
                f"certificate {spec.name!r} was issued by {issuer} and its private key is no longer in S3: "
                "revoke it at that CA directly"
            )
        revoke_at_issuer(issuer, pem, key_pem, reason.code, services)

    now = services.clock()
    mark = {"reason": reason.value, "code": reason.code, "at": now.isoformat(), "serial": state.serial}
    services.files.mark_revoked(spec.name, mark)
    for region, arn in sorted(state.acm_arns.items()):
        services.acm.mark_revoked(region, arn, reason.value)
    services.certificates.add_history(spec.name, {"action": "revoked", **mark})
    revoked = Certificate(spec, replace(state, status=Status.REVOKED, updated_at=now))
    services.certificates.save_state(spec.name, revoked.state, owner)  # LeaseLost if another worker took over
    log.info("certificate revoked", extra={"certificate": spec.name, "serial": state.serial, "reason": reason.value})
    tell(services, spec.name, Notice.CERTIFICATE_REVOKED, _event_detail(revoked, mark))
    return revoked


def revoke_at_issuer(
    directory_url: str, certificate_pem: str, key_pem: str, reason_code: int, services: Services
) -> None:
    """Revoke at ``directory_url`` with a request signed by the certificate's own key (RFC 8555 §7.6):
    no account at that CA is needed. A certificate the CA had revoked already counts as revoked."""
    with suppress(AlreadyRevoked):  # a certificate the CA had revoked already counts as revoked
        services.accounts.ca.revoke_with_key(directory_url, certificate_pem, key_pem, reason_code)
    log.info("certificate revoked at its issuing CA", extra={"directory_url": directory_url})


def _event_detail(cert: Certificate, mark: dict[str, Any]) -> dict[str, Any]:
    return {
        "certificate": cert.spec.name,
        "domains": list(cert.spec.domains),
        "serial": cert.state.serial,
        "reason": mark["reason"],
        "reason_code": mark["code"],
        "revoked_at": mark["at"],
        "acm_arns": dict(cert.state.acm_arns),
        "s3_prefix": cert.state.s3_prefix,
    }
