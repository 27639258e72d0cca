"""A directory: its ACME credential (URL, EAB key id and HMAC key, account key), its state (active, lost),
and a rotation of its credential in progress. Secret fields are kept out of ``repr`` so that a stray log
line or traceback cannot show them.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from acmevault.domain.errors import ValidationError
from acmevault.domain.quoting import field_label, quoted
from acmevault.domain.redaction import remember
from acmevault.domain.validation import (
    BASE64URL_PATTERN,
    KID_PATTERN,
    MAILTO_PATTERN,
    URL_TEXT_PATTERN,
    decode_base64url,
)

MIN_HMAC_BYTES = 16

HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")

# What a person gives for a directory (API body, CLI flags); acmevault adds account_key and account_url.
CREDENTIAL_FIELDS = ("directory_url", "eab_kid", "eab_hmac_key", "eab_hmac_alg", "contact", "sxg")


@dataclass(frozen=True)
class DirectoryCredential:
    """One complete credential set for an ACME directory: a Secrets Manager version."""

    directory_url: str
    eab_kid: str | None = None
    eab_hmac_key: str | None = field(default=None, repr=False)
    eab_hmac_alg: str = "HS256"
    contact: tuple[str, ...] = ()
    account_key: str | None = field(default=None, repr=False)
    account_url: str | None = None
    # DigiCert's Signed HTTP Exchange directory: its certificates carry CanSignHttpExchanges and go to S3 only
    sxg: bool = False

    def __post_init__(self) -> None:
        self._check_url()
        if not isinstance(self.sxg, bool):
            raise ValidationError("sxg", "must be true or false")
        if (self.eab_kid is None) != (self.eab_hmac_key is None):
            missing = "eab_hmac_key" if self.eab_hmac_key is None else "eab_kid"
            raise ValidationError(missing, "eab_kid and eab_hmac_key are given together or not at all")
        if self.eab_kid is not None:
            kid = self.eab_kid
            if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
                raise ValidationError("eab_kid", "must be 1-512 printable ASCII characters without spaces")
        if self.eab_hmac_key is not None:
            self._check_hmac(self.eab_hmac_key)
        if self.eab_hmac_alg not in HMAC_ALGORITHMS:
            raise ValidationError(
                "eab_hmac_alg", f"{quoted(self.eab_hmac_alg)} is not one of: {', '.join(HMAC_ALGORITHMS)}"
            )
        for uri in self.contact:
            if not isinstance(uri, str) or not MAILTO_PATTERN.fullmatch(uri):
                raise ValidationError("contact", f"{quoted(uri)} is not a mailto: URI (one address)")

    def _check_url(self) -> None:
        if not isinstance(self.directory_url, str):
            raise ValidationError("directory_url", "must be a string")
        if not URL_TEXT_PATTERN.fullmatch(self.directory_url):
            raise ValidationError(
                "directory_url", f"{quoted(self.directory_url)} is not a URL (1-2048 printable ASCII, no spaces)"
            )
        parts = urlsplit(self.directory_url)
        if parts.scheme != "https":
            raise ValidationError("directory_url", f"{quoted(self.directory_url)} is not an https URL")
        if not parts.hostname:
            raise ValidationError("directory_url", f"{quoted(self.directory_url)} has no host")
        if parts.username or parts.password:
            raise ValidationError("directory_url", "must not carry a user name or password")

    @staticmethod
    def _check_hmac(value: str) -> None:
        # The message never quotes the value: it is the secret.
        if not isinstance(value, str) or not BASE64URL_PATTERN.fullmatch(value):
            raise ValidationError("eab_hmac_key", "is not base64url (A-Z, a-z, 0-9, '-' and '_')")
        try:
            decoded = decode_base64url(value)
        except (binascii.Error, ValueError):
            raise ValidationError("eab_hmac_key", "does not decode as base64url") from None
        if len(decoded) < MIN_HMAC_BYTES:
            raise ValidationError(
                "eab_hmac_key", f"decodes to {len(decoded)} bytes; an EAB MAC key has at least {MIN_HMAC_BYTES}"
            )
        remember(value)  # from here on, the log redactor blanks this key wherever it turns up

    @property
    def needs_registration(self) -> bool:
        """Whether the credential has no ACME account yet (no account key or URL)."""
        return self.account_key is None or self.account_url is None

    def with_account(self, account_key: str, account_url: str) -> DirectoryCredential:
        """The same credential with the account registered for it."""
        return replace(self, account_key=account_key, account_url=account_url)

    def to_secret(self) -> dict[str, Any]:
        """The credential as the Secrets Manager value holds it (JSON-ready; secrets included)."""
        data: dict[str, Any] = {"directory_url": self.directory_url, "eab_hmac_alg": self.eab_hmac_alg}
        optional = {
            "eab_kid": self.eab_kid,
            "eab_hmac_key": self.eab_hmac_key,
            "contact": list(self.contact) or None,
            "account_key": self.account_key,
            "account_url": self.account_url,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        if self.sxg:
            data["sxg"] = True
        return data

    @classmethod
    def from_secret(cls, data: Mapping[str, Any]) -> DirectoryCredential:
        """A credential from a stored secret value; ValidationError names a field that is wrong."""
        if not isinstance(data, Mapping):
            raise ValidationError("secret", "a directory secret must be a JSON object")
        unknown = set(data) - {
            "directory_url",
            "eab_kid",
            "eab_hmac_key",
            "eab_hmac_alg",
            "contact",
            "account_key",
            "account_url",
            "sxg",
        }
        if unknown:
            raise ValidationError(field_label(sorted(unknown)[0]), "is not a field of a directory secret")
        if "directory_url" not in data:
            raise ValidationError("directory_url", "is required")
        contact = data.get("contact") or ()
        if isinstance(contact, str) or not isinstance(contact, Sequence):
            raise ValidationError("contact", "must be a list of mailto: URIs")
        return cls(
            directory_url=data["directory_url"],
            eab_kid=data.get("eab_kid"),
            eab_hmac_key=data.get("eab_hmac_key"),
            eab_hmac_alg=data.get("eab_hmac_alg") or "HS256",
            contact=tuple(contact),
            account_key=data.get("account_key"),
            account_url=data.get("account_url"),
            sxg=data.get("sxg", False),
        )

    @classmethod
    def parse(cls, data: Any) -> DirectoryCredential:
        """A credential from untrusted input (an API body): only what a person gives; the account key
        and URL are acmevault's to write. No message quotes the HMAC key."""
        if not isinstance(data, Mapping):
            raise ValidationError("body", "must be a JSON object")
        unknown = sorted(set(data) - set(CREDENTIAL_FIELDS))
        if unknown:
            allowed = ", ".join(CREDENTIAL_FIELDS)
            raise ValidationError(
                field_label(unknown[0]), f"is not a field of a directory credential (fields: {allowed})"
            )
        if data.get("directory_url") in (None, ""):
            raise ValidationError("directory_url", "is required")
        for name in ("directory_url", "eab_kid", "eab_hmac_key", "eab_hmac_alg"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ValidationError(name, "must be a string")
        contact = data.get("contact") or []
        if not isinstance(contact, list):
            raise ValidationError("contact", "must be a list of mailto: URIs")
        return cls(
            directory_url=data["directory_url"],
            eab_kid=data.get("eab_kid"),
            eab_hmac_key=data.get("eab_hmac_key"),
            eab_hmac_alg=data.get("eab_hmac_alg") or "HS256",
            contact=tuple(contact),
            sxg=data.get("sxg", False),
        )

    def public_view(self) -> dict[str, Any]:
        """What may be shown to a person: no HMAC key, no account key, a masked KID."""
        kid = self.eab_kid
        masked = None if kid is None else (kid[:4] + "…" if len(kid) > 8 else "…")
        return {
            "directory_url": self.directory_url,
            "host": urlsplit(self.directory_url).hostname,
            "eab_kid": masked,
            "eab_hmac_alg": self.eab_hmac_alg,
            "contact": list(self.contact),
            "account_url": self.account_url,
            "sxg": self.sxg,
        }


class DirectoryStatus(StrEnum):
    """Whether a directory may issue."""

    ACTIVE = "active"
    LOST = "lost"  # the credential was lost or leaked: its account is deactivated and nothing is issued


@dataclass(frozen=True)
class DirectoryState:
    """What acmevault keeps about a directory beside its secret (who marked it lost, when): never a secret."""

    status: DirectoryStatus = DirectoryStatus.ACTIVE
    changed_at: datetime | None = None
    changed_by: str | None = None
    reason: str | None = None
    generation: str | None = None  # the secret version the last rotation made current
    certcentral_key_id: str | None = None  # CertCentral's id of the credential in use, when CertCentral made it

    @property
    def lost(self) -> bool:
        """Whether the directory is marked lost (nothing is issued from it)."""
        return self.status is DirectoryStatus.LOST


class RotationKind(StrEnum):
    """What a rotation changes: the account key, or the whole credential."""

    KEY_ROLLOVER = "key-rollover"  # same account, new key (RFC 8555 §7.3.5)
    REPLACEMENT = "replacement"  # a new directory URL / EAB credential, a new account


class RotationSource(StrEnum):
    """Where a rotation's new credential set came from."""

    OPERATOR = "operator"  # a person asked (a key rollover, or a replacement credential they gave)
    CERTCENTRAL = "certcentral"  # CertCentral made the replacement credential
    SCHEDULE = "schedule"  # Secrets Manager's rotation schedule (a key rollover)
    STAGED = "staged"  # a set put into AWSPENDING outside acmevault (the console), taken up as it is


class RotationStep(StrEnum):
    """A step a rotation has done, noted as it goes (``Rotation.done``) so that a rotation run again skips it."""

    CREATED = "created"  # the new set is staged as AWSPENDING
    SET = "set"  # the CA holds it (for a key rollover: the key change happened)
    TESTED = "tested"  # it works at its CA
    PROMOTED = "promoted"  # it is AWSCURRENT, and the directory's state says so
    QUEUED = "queued"  # a replacement: the old account's certificates are queued for re-issue
    DEACTIVATED = "deactivated"  # a replacement: the old account is deactivated
    CERTCENTRAL = "certcentral"  # a replacement: the lost credential is revoked at CertCentral


class RotationOutcome(StrEnum):
    """How a finished rotation ended."""

    ROTATED = "rotated"  # its set is current
    ABANDONED = "abandoned"  # dropped before its set became current: the previous one stays in use


@dataclass(frozen=True)
class Rotation:
    """One rotation of a directory's credential, as far as it got (the table's DIR item); no secret in it.

    ``token`` is the Secrets Manager version (ClientRequestToken) of the new credential;
    ``done`` lists the steps completed, so a rotation interrupted anywhere is resumed, not redone.
    """

    token: str
    kind: RotationKind
    actor: str
    started_at: datetime
    previous_version: str
    previous_account_url: str | None
    source: RotationSource = RotationSource.OPERATOR
    directory_url: str | None = None  # of the new credential
    account_url: str | None = None  # of the new credential's account
    revoke_previous: bool = False
    certcentral_key_id: str | None = None  # the CertCentral key that made the new credential
    previous_certcentral_key_id: str | None = None  # CertCentral's id of the credential being replaced
    done: tuple[RotationStep, ...] = ()
    finished_at: datetime | None = None
    outcome: RotationOutcome | None = None

    @property
    def finished(self) -> bool:
        """Whether it ended (rotated or abandoned); a new rotation of the directory may start then."""
        return self.finished_at is not None

    def step(self, done: RotationStep) -> Rotation:
        """This rotation with ``done`` noted (itself when it was noted already)."""
        return self if done in self.done else replace(self, done=(*self.done, done))

    def finish(self, outcome: RotationOutcome, at: datetime) -> Rotation:
        """This rotation, ended at ``at`` with ``outcome``."""
        return replace(self, finished_at=at, outcome=outcome)


class AccountStatus(StrEnum):
    """An ACME account's status (RFC 8555 §7.1.2)."""

    VALID = "valid"
    DEACTIVATED = "deactivated"  # by its holder (§7.3.6)
    REVOKED = "revoked"  # by the CA


@dataclass(frozen=True)
class Account:
    """An ACME account as its CA reports it."""

    url: str
    status: AccountStatus


@dataclass(frozen=True)
class CreatedCredential:
    """A directory credential a provider (DigiCert CertCentral) made, with the provider's id for it
    (to revoke it there one day)."""

    key_id: str
    credential: DirectoryCredential


class RevocationState(StrEnum):
    """Where a superseded certificate's revocation stands."""

    WAITING = "waiting"  # until its replacement is in ACM and S3
    REVOKED = "revoked"
    FAILED = "failed"  # given up: its private key is no longer in S3


@dataclass(frozen=True)
class SupersededCertificate:
    """A certificate a replaced account issued, to revoke once its replacement is served (a ``DIRREV#`` item).

    Nothing secret: the PEM is the certificate's; its private key stays in S3.
    """

    certificate: str  # the certificate's name (the item's sort key)
    serial: str
    certificate_pem: str = field(repr=False)
    account_url: str | None
    directory_url: str | None  # the directory that issued it; None: noted before issuers were recorded
    token: str  # the rotation that noted it
    noted_at: datetime | None
    state: RevocationState = RevocationState.WAITING
    revoked_at: datetime | None = None
    error: str | None = None  # why it was given up

    def to_dict(self) -> dict[str, Any]:
        """The stored attributes (the certificate's name is the item's key, not one of them); None is left out."""
        values = {
            "serial": self.serial,
            "certificate_pem": self.certificate_pem,
            "account_url": self.account_url,
            "directory_url": self.directory_url,
            "token": self.token,
            "noted_at": _iso(self.noted_at),
            "state": self.state.value,
            "revoked_at": _iso(self.revoked_at),
            "error": self.error,
        }
        return {k: v for k, v in values.items() if v is not None}

    @classmethod
    def from_dict(cls, certificate: str, data: Mapping[str, Any]) -> SupersededCertificate:
        """An entry as stored (``to_dict``), including those written before this class existed."""
        return cls(
            certificate=certificate,
            serial=str(data["serial"]),
            certificate_pem=str(data["certificate_pem"]),
            account_url=data.get("account_url"),
            directory_url=data.get("directory_url"),
            token=str(data.get("token", "")),
            noted_at=_parse_time(data.get("noted_at")),
            state=RevocationState(data.get("state", RevocationState.WAITING.value)),
            revoked_at=_parse_time(data.get("revoked_at")),
            error=data.get("error"),
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(value: Any) -> datetime | None:
    return None if not value else datetime.fromisoformat(str(value))
