"""Checks on what people type: names, domain names (IDNA 2008), regions, zone ids, patterns.

Every pattern is anchored with \\A and \\Z (``$`` also matches before a trailing newline) and
compiled with re.ASCII (``\\d`` and ``\\w`` would take other scripts' digits and letters). Every
validation error names the field that was wrong.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Sequence
from enum import Enum
from typing import Any

import idna

from acmevault.domain.errors import ValidationError
from acmevault.domain.quoting import quoted

# Every pattern is anchored with \A and \Z (``$`` also matches before a trailing newline) and
# compiled with re.ASCII (``\d`` and ``\w`` would take other scripts' digits and letters).
NAME_PATTERN = re.compile(r"\A[a-z0-9][a-z0-9-]{0,62}\Z", re.ASCII)

LABEL_PATTERN = re.compile(r"\A(?!-)[a-z0-9-]{1,63}(?<!-)\Z", re.ASCII)

NUMERIC_PATTERN = re.compile(r"\A[0-9]+\Z", re.ASCII)

BASE64URL_PATTERN = re.compile(r"\A[A-Za-z0-9_-]+={0,2}\Z", re.ASCII)

REGION_PATTERN = re.compile(r"\A[a-z]{2}(-gov)?-[a-z]+-[0-9]\Z", re.ASCII)

HOSTED_ZONE_ID_PATTERN = re.compile(r"\A(/hostedzone/)?[A-Z0-9]{1,32}\Z", re.ASCII)

PROFILE_PATTERN = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z", re.ASCII)

KID_PATTERN = re.compile(r"\A[!-~]{1,512}\Z", re.ASCII)

# mailto: with one address: printable ASCII without spaces before the @, a host name after it.
MAILTO_PATTERN = re.compile(r"\Amailto:[!-?A-~]+@[A-Za-z0-9.-]+\Z", re.ASCII)

# An https URL as it goes on the wire: printable ASCII, no spaces (urlsplit drops tabs and newlines).
URL_TEXT_PATTERN = re.compile(r"\A[!-~]{1,2048}\Z", re.ASCII)

# An IAM role: partition, 12-digit account, optional path, name of 1-64 of IAM's characters.
ROLE_ARN_PATTERN = re.compile(
    r"\Aarn:aws(-cn|-us-gov)?:iam::[0-9]{12}:role/([\x21-\x7e]{1,510}/)?[A-Za-z0-9_+=,.@-]{1,64}\Z", re.ASCII
)

MAX_DOMAINS = 100


def parse_enum(enum: type[Enum], field_name: str, value: Any) -> Any:
    """``value`` as a member of ``enum``; ValidationError lists the values allowed."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise ValidationError(field_name, f"{quoted(value)} is not one of: {allowed}") from None


def validate_name(value: Any, field_name: str = "name") -> str:
    """``value`` when it is a name acmevault accepts (1-63 of a-z, 0-9, '-'); ValidationError otherwise."""
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
        if not LABEL_PATTERN.fullmatch(label):
            raise ValidationError(
                field_name,
                f"{quoted(value)} is not a valid domain name "
                f"(label {quoted(label)}; a wildcard is allowed only as '*.' at the start)",
            )
        _check_idna_label(value, label, field_name)
    if NUMERIC_PATTERN.fullmatch(labels[-1]):
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
    """A certificate's names, each checked as ``validate_domain`` does: 1-100 of them, none twice."""
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
    """``value`` when it is shaped as an AWS region name; ValidationError otherwise."""
    if not isinstance(value, str) or not REGION_PATTERN.fullmatch(value):
        raise ValidationError(field_name, f"{quoted(value)} is not an AWS region name")
    return value


def decode_base64url(value: str) -> bytes:
    """The bytes of a base64url string, with or without its padding."""
    padded = value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4)
    return base64.urlsafe_b64decode(padded)
