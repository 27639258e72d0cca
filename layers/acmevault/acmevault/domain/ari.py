"""ACME Renewal Information (RFC 9773): when the CA wants a certificate renewed.

Pure functions: the HTTP fetch lives in the ACME adapter, which reads the CA's answer into a
:class:`RenewalInfo`; these turn it into a plan (when to renew, when to ask again) and are tested
against recorded responses.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

MIN_RECHECK = timedelta(minutes=1)
MAX_RECHECK = timedelta(days=1)
DEFAULT_RECHECK = timedelta(hours=6)  # RFC 9773 §4.3.3, also after an error


@dataclass(frozen=True)
class RenewalInfo:
    """The CA's renewal information for one certificate (RFC 9773 §4.2), as read by the adapter."""

    start: datetime | None  # the suggested window; None: missing, or not a time
    end: datetime | None
    retry_after: float | None = None  # seconds, from the answer's Retry-After header


@dataclass(frozen=True)
class RenewalPlan:
    """What ARI decided: when to renew (None: keep the lifetime-based time), and when to ask again."""

    renew_at: datetime | None  # None: the CA gave no usable window; keep the lifetime-based time
    check_again_at: datetime


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def certificate_id(certificate: x509.Certificate) -> str:
    """The ARI certificate identifier: base64url(AKI keyIdentifier) '.' base64url(serial, DER integer bytes)."""
    from cryptography import x509  # the caller holds a certificate: loaded already, and only then

    aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    if aki.key_identifier is None:
        raise ValueError("the certificate's Authority Key Identifier has no key identifier")
    serial = certificate.serial_number
    length = serial.bit_length() // 8 + 1  # DER INTEGER content: room for a leading zero bit
    return f"{_b64url(aki.key_identifier)}.{_b64url(serial.to_bytes(length, 'big'))}"


def clamp_recheck(seconds: float | None, now: datetime) -> datetime:
    """When to ask ARI again: after the CA's Retry-After held to 1 minute - 1 day, or 6 hours without one."""
    if seconds is None:
        return now + DEFAULT_RECHECK
    delay = min(max(timedelta(seconds=seconds), MIN_RECHECK), MAX_RECHECK)
    return now + delay


def plan(info: RenewalInfo, now: datetime, rng: random.Random) -> RenewalPlan:
    """A renewal time chosen at random inside the suggested window, and when to ask again.

    An invalid window (missing, unparsable, without a time zone, end not after start) is treated
    like an error: no renewal time from ARI, ask again in six hours. A window already in the
    past means renew now.
    """
    start, end = info.start, info.end
    if start is None or end is None or start.tzinfo is None or end.tzinfo is None or end <= start:
        return failed(now)
    check_again = clamp_recheck(info.retry_after, now)
    if end <= now:
        return RenewalPlan(renew_at=now, check_again_at=check_again)
    earliest = max(start, now)
    renew_at = earliest + (end - earliest) * rng.random()
    return RenewalPlan(renew_at=renew_at, check_again_at=check_again)


def failed(now: datetime) -> RenewalPlan:
    """The plan after an error or an unusable answer: no renewal time from ARI, ask again in 6 hours."""
    return RenewalPlan(renew_at=None, check_again_at=now + DEFAULT_RECHECK)
