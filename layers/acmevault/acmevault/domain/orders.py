"""An ACME order and its authorizations (RFC 8555 §7.1.3, §7.1.4), in acmevault's terms.

What the use cases read of the CA's answers, whatever library speaks to it: the adapter
(:mod:`acmevault.adapters.acme.translation`) builds these from the ``acme`` package's messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class OrderStatus(StrEnum):
    """An order's status at the CA (RFC 8555 §7.1.6)."""

    PENDING = "pending"  # authorizations to prove
    READY = "ready"  # proved: waiting for the CSR (finalize)
    PROCESSING = "processing"  # the CA is issuing (or waiting for a person's approval)
    VALID = "valid"  # issued: the certificate can be downloaded
    INVALID = "invalid"  # failed or abandoned: it cannot be finished


class AuthorizationStatus(StrEnum):
    """An authorization's status at the CA (RFC 8555 §7.1.6)."""

    PENDING = "pending"  # a challenge must be answered
    VALID = "valid"  # proved (now, earlier, or pre-validated at the CA)
    INVALID = "invalid"
    DEACTIVATED = "deactivated"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class DnsChallenge:
    """An authorization's dns-01 challenge: the TXT record to publish, and where to answer it."""

    url: str  # the challenge's URL: answering it asks the CA to look
    token: str  # as the CA gave it (base64url): the key authorization is built from it
    domain: str  # the identifier, without "*."
    record_name: str  # _acme-challenge.<domain>
    record_value: str  # base64url(SHA-256(key authorization)), for this account's key
    authorization_url: str


@dataclass(frozen=True)
class Authorization:
    """The CA's authorization of the account for one name of an order."""

    url: str
    identifier: str  # the name as the CA lists it: a wildcard's without "*."
    wildcard: bool
    status: AuthorizationStatus
    dns_challenge: DnsChallenge | None  # None: the CA offers no dns-01 challenge for it

    @property
    def domain(self) -> str:
        """The name as a spec gives it: a wildcard authorization's identifier with its "*."."""
        return ("*." if self.wildcard else "") + self.identifier


@dataclass(frozen=True)
class Order:
    """An order at the CA, as last read; ``authorizations`` are empty until fetched."""

    url: str
    status: OrderStatus
    identifiers: tuple[str, ...]  # the names ordered, as the CA lists them
    finalize_url: str
    csr_pem: bytes = field(repr=False)  # the CSR it is (or will be) finalized with
    authorization_urls: tuple[str, ...] = ()
    authorizations: tuple[Authorization, ...] = ()
    certificate_url: str | None = None  # once valid
    error: str | None = None  # the CA's reason, once invalid

    def pending(self) -> list[Authorization]:
        """The authorizations not valid yet."""
        return [a for a in self.authorizations if a.status is not AuthorizationStatus.VALID]

    def to_prove(self) -> list[Authorization]:
        """The authorizations waiting for a challenge to be answered (status pending)."""
        return [a for a in self.authorizations if a.status is AuthorizationStatus.PENDING]
