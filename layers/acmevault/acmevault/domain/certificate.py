"""A certificate: its spec (what people ask for), its state (what was issued, where it serves, what is
in flight), and the rules for when it renews. Validated at construction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from acmevault.domain.errors import ValidationError
from acmevault.domain.quoting import field_label, quoted
from acmevault.domain.validation import (
    HOSTED_ZONE_ID_PATTERN,
    PROFILE_PATTERN,
    ROLE_ARN_PATTERN,
    parse_enum,
    validate_domains,
    validate_name,
    validate_region,
)


class KeyType(StrEnum):
    """The key a certificate is issued for (what a spec's ``key_type`` names)."""

    EC_P256 = "ec-p256"
    EC_P384 = "ec-p384"
    RSA_2048 = "rsa-2048"
    RSA_3072 = "rsa-3072"
    RSA_4096 = "rsa-4096"


class Challenge(StrEnum):
    """How names are proved: ``dns-01`` for each; ``auto``, dns-01 for those the CA has not validated already;
    ``none``, never (every name must be pre-validated at the CA)."""

    AUTO = "auto"
    NONE = "none"
    DNS_01 = "dns-01"


class Status(StrEnum):
    """Where a certificate is in its life."""

    PENDING = "pending"  # defined, never issued
    ISSUED = "issued"
    FAILED = "failed"  # never issued, and the last attempt failed (a failed renewal keeps "issued": see last_error)
    REVOKED = "revoked"
    # an order the CA keeps "processing" (DigiCert approval): not a failure; the worker checks back
    AWAITING_CA = "awaiting_ca"


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
    """What people ask for: the names, the directory that issues them, the key, where it is served."""

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
        if zone is not None and (not isinstance(zone, str) or not HOSTED_ZONE_ID_PATTERN.fullmatch(zone)):
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
        if profile is not None and (not isinstance(profile, str) or not PROFILE_PATTERN.fullmatch(profile)):
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
            key_type=parse_enum(KeyType, "key_type", data.get("key_type") or KeyType.EC_P256.value),
            challenge=parse_enum(Challenge, "challenge", data.get("challenge") or Challenge.AUTO.value),
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
        """The spec as stored and shown (enums as their values, tuples as lists)."""
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
    """Whether an ACM region serves the record's certificate or its last import failed."""

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
        """The region's state as stored and shown."""
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
    """A certificate as stored: its spec and its state."""

    spec: CertificateSpec
    state: CertificateState = field(default_factory=CertificateState)


def s3_prefix_for(name: str) -> str:
    """Where a certificate's files are kept in the bucket (``certificates/<name>/``): the record's
    ``s3_prefix``, and the key prefix of its cert, chain, fullchain, privkey and metadata files."""
    return f"certificates/{name}/"


def is_due(cert: Certificate, now: datetime, regions: Sequence[str] = ()) -> bool:
    """Whether the next action is an issuance (or a lagging ACM region's catch-up) for ``regions``."""
    state = cert.state
    if state.serial is None or state.pending is not None or state.status is Status.REVOKED:
        return True  # never issued, an order to finish, or revoked: the next action is an issue
    if state.retry_at is not None:
        return now >= state.retry_at
    if state.lagging(regions):
        return True
    return state.renew_at is None or now >= state.renew_at


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
