"""The things acmevault manages, validated at construction.

Every validation error names the field that was wrong. Secret fields are kept out
of ``repr`` so that a stray log line or traceback cannot show them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any
from urllib.parse import urlsplit

import idna

from .errors import ValidationError
from .quoting import field_label, quoted
from .redaction import remember

# Every pattern is anchored with \A and \Z (``$`` also matches before a trailing newline) and
# compiled with re.ASCII (``\d`` and ``\w`` would take other scripts' digits and letters).
NAME_PATTERN = re.compile(r"\A[a-z0-9][a-z0-9-]{0,62}\Z", re.ASCII)
_LABEL = re.compile(r"\A(?!-)[a-z0-9-]{1,63}(?<!-)\Z", re.ASCII)
_NUMERIC = re.compile(r"\A[0-9]+\Z", re.ASCII)
_BASE64URL = re.compile(r"\A[A-Za-z0-9_-]+={0,2}\Z", re.ASCII)
_REGION = re.compile(r"\A[a-z]{2}(-gov)?-[a-z]+-[0-9]\Z", re.ASCII)
_HOSTED_ZONE_ID = re.compile(r"\A(/hostedzone/)?[A-Z0-9]{1,32}\Z", re.ASCII)
_PROFILE = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z", re.ASCII)
_KID = re.compile(r"\A[!-~]{1,512}\Z", re.ASCII)
# mailto: with one address: printable ASCII without spaces before the @, a host name after it.
_MAILTO = re.compile(r"\Amailto:[!-?A-~]+@[A-Za-z0-9.-]+\Z", re.ASCII)
# An https URL as it goes on the wire: printable ASCII, no spaces (urlsplit drops tabs and newlines).
_URL_TEXT = re.compile(r"\A[!-~]{1,2048}\Z", re.ASCII)
# An IAM role: partition, 12-digit account, optional path, name of 1-64 of IAM's characters.
ROLE_ARN_PATTERN = re.compile(
    r"\Aarn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\x21-\x7e]{1,510}/)?[A-Za-z0-9_+=,.@-]{1,64}\Z", re.ASCII
)
MAX_DOMAINS = 100
MIN_HMAC_BYTES = 16
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")


class KeyType(StrEnum):
    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"


class Challenge(StrEnum):
    AUTO = "auto"
    NONE = "none"
    DNS_01 = "dns-01"


class Status(StrEnum):
    PENDING = "pending"  # defined, never issued
    ISSUED = "issued"
    FAILED = "failed"  # never issued, and the last attempt failed (a failed renewal keeps "issued": see last_error)
    REVOKED = "revoked"
    # an order the CA keeps "processing" (DigiCert approval): not a failure; the worker checks back
    AWAITING_CA = "awaiting_ca"


def _enum(enum: type[Enum], field_name: str, value: Any) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise ValidationError(field_name, f"{quoted(value)} is not one of: {allowed}") from None


def validate_name(value: Any, field_name: str = "name") -> str:
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise ValidationError(
            field_name,
            f"{quoted(value)} is not a valid name (1-63 of a-z, 0-9 and '-', starting with a letter or digit)",
        )
    return value


def validate_domain(value: Any, field_name: str = "domains") -> str:
    """A DNS name as a certificate may carry it, lower-cased and without a trailing dot.

    Labels are LDH (letters, digits, hyphens; 1-63, no hyphen at either end); a wildcard only as a
    leading ``*.``; hyphens in positions 3-4 only in an ``xn--`` A-label, which must decode (IDNA 2008,
    ``idna``) and be in its canonical form; the top-level label is not all digits.
    """
    if not isinstance(value, str):
        raise ValidationError(field_name, f"{quoted(value)} is not a string")
    if not value:
        raise ValidationError(field_name, "a domain name is empty")
    if not value.isascii():
        raise ValidationError(
            field_name, f"{quoted(value)} is not ASCII; give an internationalised name in its IDNA form (xn--...)"
        )
    domain = value.lower().removesuffix(".")
    try:
        ipaddress.ip_address(domain.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValidationError(field_name, f"{quoted(value)} is an IP address; only DNS names are supported")
    if len(domain) > 253:
        raise ValidationError(field_name, f"{quoted(value)} is longer than 253 characters")
    labels = domain.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    if len(labels) < 2:
        raise ValidationError(field_name, f"{quoted(value)} is not a fully qualified domain name")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise ValidationError(
                field_name,
                f"{quoted(value)} is not a valid domain name "
                f"(label {quoted(label)}; a wildcard is allowed only as '*.' at the start)",
            )
        _check_idna_label(value, label, field_name)
    if _NUMERIC.fullmatch(labels[-1]):
        raise ValidationError(
            field_name, f"{quoted(value)} is not a valid domain name (its top-level label {labels[-1]!r} is all digits)"
        )
    return domain


def _check_idna_label(value: str, label: str, field_name: str) -> None:
    if label[2:4] == "--" and not label.startswith("xn--"):
        raise ValidationError(
            field_name,
            f"{quoted(value)} is not a valid domain name (label {quoted(label)}: '--' in positions 3-4 is "
            "reserved for IDNA A-labels, xn--...)",
        )
    if not label.startswith("xn--"):
        return
    try:
        canonical = idna.alabel(idna.ulabel(label)).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        canonical = None
    if canonical != label:
        raise ValidationError(
            field_name,
            f"{quoted(value)} is not a valid domain name (label {quoted(label)} is not a valid IDNA A-label)",
        )


def validate_domains(values: Any) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValidationError("domains", "must be a list of domain names")
    if not values:
        raise ValidationError("domains", "at least one domain name is required")
    if len(values) > MAX_DOMAINS:
        raise ValidationError("domains", f"{len(values)} names given; at most {MAX_DOMAINS} are allowed")
    domains = tuple(validate_domain(v) for v in values)
    seen: set[str] = set()
    for domain in domains:
        if domain in seen:
            raise ValidationError("domains", f"{quoted(domain)} is listed twice")
        seen.add(domain)
    return domains


def validate_region(value: Any, field_name: str = "acm_regions") -> str:
    if not isinstance(value, str) or not _REGION.fullmatch(value):
        raise ValidationError(field_name, f"{quoted(value)} is not an AWS region name")
    return value


def decode_base64url(value: str) -> bytes:
    padded = value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4)
    return base64.urlsafe_b64decode(padded)


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
            if not isinstance(kid, str) or not _KID.fullmatch(kid):
                raise ValidationError("eab_kid", "must be 1-512 printable ASCII characters without spaces")
        if self.eab_hmac_key is not None:
            self._check_hmac(self.eab_hmac_key)
        if self.eab_hmac_alg not in HMAC_ALGORITHMS:
            raise ValidationError(
                "eab_hmac_alg", f"{quoted(self.eab_hmac_alg)} is not one of: {', '.join(HMAC_ALGORITHMS)}"
            )
        for uri in self.contact:
            if not isinstance(uri, str) or not _MAILTO.fullmatch(uri):
                raise ValidationError("contact", f"{quoted(uri)} is not a mailto: URI (one address)")

    def _check_url(self) -> None:
        if not isinstance(self.directory_url, str):
            raise ValidationError("directory_url", "must be a string")
        if not _URL_TEXT.fullmatch(self.directory_url):
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
        if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
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
        return self.account_key is None or self.account_url is None

    def with_account(self, account_key: str, account_url: str) -> DirectoryCredential:
        return replace(self, account_key=account_key, account_url=account_url)

    def to_secret(self) -> dict[str, Any]:
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


SPEC_FIELDS = (
    "domains",
    "directory",
    "key_type",
    "challenge",
    "hosted_zone_id",
    "route53_role_arn",
    "acm_regions",
    "profile",
    "renew_fraction",
)


@dataclass(frozen=True)
class CertificateSpec:
    name: str
    domains: tuple[str, ...]
    directory: str
    key_type: KeyType = KeyType.EC_P256
    challenge: Challenge = Challenge.AUTO
    hosted_zone_id: str | None = None
    # dns-01 in zones of another AWS account: the role there that acmevault assumes to write them
    route53_role_arn: str | None = None
    acm_regions: tuple[str, ...] = ()
    profile: str | None = None
    # Fraction of the lifetime left when renewal is due; None: a third (half under 10 days), or ARI.
    renew_fraction: float | None = None

    @classmethod
    def parse(cls, name: Any, data: Mapping[str, Any]) -> CertificateSpec:
        """Build a spec from untrusted input (API body, CLI flags, table item)."""
        if not isinstance(data, Mapping):
            raise ValidationError("body", "must be a JSON object")
        unknown = sorted(set(data) - set(SPEC_FIELDS) - {"name"})
        if unknown:
            raise ValidationError(
                field_label(unknown[0]), f"is not a field of a certificate (fields: {', '.join(SPEC_FIELDS)})"
            )
        for required in ("domains", "directory"):
            if data.get(required) in (None, "", []):
                raise ValidationError(required, "is required")
        zone = data.get("hosted_zone_id")
        if zone is not None and (not isinstance(zone, str) or not _HOSTED_ZONE_ID.fullmatch(zone)):
            raise ValidationError("hosted_zone_id", f"{quoted(zone)} is not a Route 53 hosted zone id")
        role = data.get("route53_role_arn")
        if role is not None and (not isinstance(role, str) or not ROLE_ARN_PATTERN.fullmatch(role)):
            raise ValidationError(
                "route53_role_arn", f"{quoted(role)} is not an IAM role ARN (arn:aws:iam::<account id>:role/<name>)"
            )
        regions = data.get("acm_regions") or ()
        if isinstance(regions, str) or not isinstance(regions, Sequence):
            raise ValidationError("acm_regions", "must be a list of AWS region names")
        profile = data.get("profile")
        if profile is not None and (not isinstance(profile, str) or not _PROFILE.fullmatch(profile)):
            raise ValidationError("profile", f"{quoted(profile)} is not an ACME profile name")
        fraction = data.get("renew_fraction")
        if fraction is not None and (
            isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.05 <= fraction <= 0.95
        ):
            raise ValidationError("renew_fraction", f"{quoted(fraction)} is not a number from 0.05 to 0.95")
        return cls(
            name=validate_name(name),
            domains=validate_domains(data["domains"]),
            directory=validate_name(data["directory"], "directory"),
            key_type=_enum(KeyType, "key_type", data.get("key_type") or KeyType.EC_P256.value),
            challenge=_enum(Challenge, "challenge", data.get("challenge") or Challenge.AUTO.value),
            hosted_zone_id=zone.rsplit("/", 1)[-1] if zone else None,
            route53_role_arn=role,
            acm_regions=tuple(dict.fromkeys(validate_region(r) for r in regions)),
            profile=profile,
            renew_fraction=float(fraction) if fraction is not None else None,
        )

    @property
    def digest(self) -> str:
        """A fingerprint of the spec as stored: a worker's final write is conditioned on it, so a spec
        changed while its certificate was being issued is noticed however the worker ends."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {
            "domains": list(self.domains),
            "directory": self.directory,
            "key_type": self.key_type.value,
            "challenge": self.challenge.value,
            "hosted_zone_id": self.hosted_zone_id,
            "route53_role_arn": self.route53_role_arn,
            "acm_regions": list(self.acm_regions),
            "profile": self.profile,
            "renew_fraction": self.renew_fraction,
        }


class RegionStatus(StrEnum):
    SERVED = "served"  # ACM in this region holds the record's serial (or the one before, while it catches up)
    FAILED = "failed"  # the last import into this region failed; it is retried on its own, without a new order


@dataclass(frozen=True)
class RegionState:
    """One ACM region of a certificate: its ARN (stable across renewals) and the serial it holds."""

    arn: str | None = None
    serial: str | None = None
    status: RegionStatus = RegionStatus.SERVED
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"arn": self.arn, "serial": self.serial, "status": self.status.value, "error": self.error}


@dataclass(frozen=True)
class CatchUp:
    """The serving certificate with its key (KMS-encrypted), kept only while an ACM region lags behind:
    a lagging region is re-imported from it without a new order."""

    fullchain: str
    encrypted_key: bytes = field(repr=False)


@dataclass(frozen=True)
class CertificateState:
    """What acmevault knows about the certificate currently serving for a spec."""

    status: Status = Status.PENDING
    serial: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    renew_at: datetime | None = None
    # per ACM region: ARN, serial it holds, served | failed (DESIGN "Certificate state additions")
    regions: Mapping[str, RegionState] = field(default_factory=dict)
    s3_prefix: str | None = None
    account_url: str | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    updated_at: datetime | None = None
    # ARI (RFC 9773): when to ask the CA again, and the certificate it is about
    ari_check_at: datetime | None = None
    # after a failure: not before this time again (backoff)
    retry_at: datetime | None = None
    # when to tell people the certificate is close to expiry and still not renewed
    alert_at: datetime | None = None
    # an order in flight, kept so a crashed attempt resumes it instead of ordering again
    pending: PendingOrder | None = None
    # the serving certificate (public): ARI identifies it, and a revocation needs it
    certificate_pem: str | None = None
    # while an ACM region lags behind the serial: what it is re-imported from
    catch_up: CatchUp | None = None
    # read only (the table's lease): until when a worker holds the certificate; never written by save_state
    lease_until: datetime | None = None
    # since when the order in flight has been "processing" at the CA (waiting for its approval), and
    # when people were last told about it; both None when no order is waiting
    awaiting_since: datetime | None = None
    awaiting_alerted_at: datetime | None = None
    # the ACME directory URL that issued the serving certificate: revocations go there, whatever
    # the directory's credential points at now
    issuer_directory_url: str | None = None
    # what people should know about the serving certificate that did not stop it (a missing CAA record)
    warnings: tuple[str, ...] = ()

    @property
    def acm_arns(self) -> dict[str, str]:
        """ARN per region, derived from ``regions`` (the field before regions had a state of their own)."""
        return {region: r.arn for region, r in self.regions.items() if r.arn is not None}

    def lagging(self, regions: Sequence[str]) -> list[str]:
        """The regions of ``regions`` whose ACM copy is not the record's serial (failed, or never imported)."""
        if self.serial is None:
            return []
        return [r for r in regions if r not in self.regions or self.regions[r].serial != self.serial]

    @property
    def due_at(self) -> datetime | None:
        """When the sweep must next look at this certificate (renew, re-check ARI, or retry)."""
        if self.status is Status.REVOKED:
            return None
        if self.retry_at is not None:
            return self.retry_at
        times = [t for t in (self.renew_at, self.ari_check_at) if t is not None]
        return min(times) if times else None


@dataclass(frozen=True)
class PendingOrder:
    """An order placed but not yet served: enough to finish it after a crash, without ordering again,
    and what it was placed for, so a spec changed since is noticed instead of wedging the certificate."""

    order_url: str
    account_url: str
    encrypted_key: bytes = field(repr=False)  # the new private key, encrypted with the stack's KMS key
    fullchain: str | None = None  # set once downloaded: only the push to ACM and S3 remains
    # what it was placed for; None on orders recorded before these were kept (then the CA's order is checked)
    domains: tuple[str, ...] | None = None
    key_type: KeyType | None = None
    directory: str | None = None

    def placed_for(self, spec: CertificateSpec) -> bool:
        """Whether this order was placed for exactly ``spec``'s names, key type and directory."""
        if self.domains is None:
            return True  # an order from before these were recorded: the CA's order is compared instead
        return (
            set(self.domains) == set(spec.domains)
            and self.key_type is spec.key_type
            and self.directory == spec.directory
        )


@dataclass(frozen=True)
class Certificate:
    spec: CertificateSpec
    state: CertificateState = field(default_factory=CertificateState)


def default_renew_at(not_before: datetime, not_after: datetime, fraction: float | None = None) -> datetime:
    """Renew when a third of the lifetime remains (half for lifetimes under 10 days), or ``fraction``.

    A fraction, not a fixed number of days, so 6-day, 47-day, 90-day and 1-year
    certificates all renew once per lifetime instead of looping.
    """
    lifetime = not_after - not_before
    if fraction is None:
        fraction = 1 / 2 if lifetime < timedelta(days=10) else 1 / 3
    return not_after - lifetime * fraction


def default_alert_at(not_before: datetime, not_after: datetime) -> datetime:
    """Tell people when a sixth of the lifetime remains and the certificate is still not renewed."""
    return not_after - (not_after - not_before) / 6


def retry_delay(consecutive_failures: int, retry_after: float | None, jitter: float) -> timedelta:
    """Exponential backoff from 5 minutes to 6 hours, with jitter in [0.5, 1.0), never before Retry-After."""
    backoff = min(300 * 2 ** max(0, consecutive_failures - 1), 6 * 3600) * (0.5 + jitter / 2)
    return timedelta(seconds=max(backoff, retry_after or 0))


class DirectoryStatus(StrEnum):
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
        return self.status is DirectoryStatus.LOST


class RotationKind(StrEnum):
    KEY_ROLLOVER = "key-rollover"  # same account, new key (RFC 8555 §7.3.5)
    REPLACEMENT = "replacement"  # a new directory URL / EAB credential, a new account


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
    source: str = "operator"  # operator | certcentral | schedule
    directory_url: str | None = None  # of the new credential
    account_url: str | None = None  # of the new credential's account
    revoke_previous: bool = False
    certcentral_key_id: str | None = None  # the CertCentral key that made the new credential
    previous_certcentral_key_id: str | None = None  # CertCentral's id of the credential being replaced
    done: tuple[str, ...] = ()
    finished_at: datetime | None = None
    outcome: str | None = None  # rotated | abandoned

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def step(self, name: str) -> Rotation:
        return self if name in self.done else replace(self, done=(*self.done, name))
