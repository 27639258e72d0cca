"""Who may use a directory, for which names: the matching rules, pure (no AWS, no I/O).

A directory's policy lists ``allowed_domains`` and ``allowed_principals``:

- a name is allowed when it equals an allowed domain or lies under it (``a.b.example.com`` is under
  ``example.com``; ``badexample.com`` and ``example.com.evil.net`` are not); ``*.a.b`` counts as ``a.b``,
  as an allowed domain and as a requested name; no ``allowed_domains`` means no name restriction;
- a principal pattern (fnmatch, case-sensitive as IAM is) is matched against the caller's ARN; an
  assumed-role session ``arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`` also matches as its role
  ``arn:aws:iam::ACCT:role/ROLE``. A session ARN carries no role path, so an exact role ARN with a
  path is matched without it (role names are unique in an account, whatever their path); a pattern
  may not wildcard a path, nor the account.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from acmevault.domain.errors import ValidationError
from acmevault.domain.quoting import field_label, quoted
from acmevault.domain.validation import validate_domain

MAX_ENTRIES = 100
POLICY_FIELDS = ("allowed_domains", "allowed_principals")
# arn:PARTITION:iam|sts::ACCOUNT:RESOURCE — the account is 12 digits, never a wildcard.
# Anchored with \A and \Z (``$`` also matches before a final newline), ASCII only.
_PATTERN = re.compile(r"\Aarn:aws(-cn|-us-gov)?:(iam|sts)::[0-9]{12}:[\x21-\x7e]{1,1900}\Z", re.ASCII)
_SESSION = re.compile(
    r"\Aarn:(aws(?:-cn|-us-gov)?):sts::([0-9]{12}):assumed-role/([\x21-\x2e\x30-\x7e]+)/[\x21-\x2e\x30-\x7e]+\Z",
    re.ASCII,
)
_ROLE_WITH_PATH = re.compile(
    r"\A(arn:aws(?:-cn|-us-gov)?:iam::[0-9]{12}:role/)(?:[\x21-\x2e\x30-\x7e]+/)+([\x21-\x2e\x30-\x7e]+)\Z",
    re.ASCII,
)
_WILDCARDS = frozenset("*?[]")


def bare_domain(domain: str) -> str:
    """``*.a.b`` → ``a.b``: a wildcard is allowed where its base name is."""
    return domain[2:] if domain.startswith("*.") else domain


def domain_allowed(domain: str, allowed_domains: Iterable[str]) -> bool:
    """Whether ``domain`` equals one of ``allowed_domains`` or lies under it (labels, not characters)."""
    name = bare_domain(domain.lower().rstrip("."))
    for entry in allowed_domains:
        base = bare_domain(entry.lower().rstrip("."))
        if name == base or name.endswith("." + base):
            return True
    return False


def role_of(arn: str) -> str | None:
    """The role ARN an assumed-role session ARN acts as; None for any other ARN."""
    match = _SESSION.fullmatch(arn)
    if match is None:
        return None
    partition, account, role = match.groups()
    return f"arn:{partition}:iam::{account}:role/{role}"


def principal_matches(arn: str, pattern: str) -> bool:
    """Whether the caller ``arn`` matches ``pattern`` (fnmatch), directly or as its role."""
    if not _WILDCARDS & set(pattern):
        pattern = _ROLE_WITH_PATH.sub(r"\1\2", pattern)  # exact role ARN: match without its path
    candidates = [arn, role] if (role := role_of(arn)) else [arn]
    return any(fnmatchcase(candidate, pattern) for candidate in candidates)


def principal_allowed(arn: str, patterns: Iterable[str]) -> bool:
    """Whether the caller ``arn`` matches any of ``patterns``."""
    return any(principal_matches(arn, pattern) for pattern in patterns)


def validate_principal_pattern(value: Any, field_name: str = "allowed_principals") -> str:
    """An ARN pattern of an IAM or STS principal in one account; refused with its reason otherwise."""
    if not isinstance(value, str) or not _PATTERN.fullmatch(value):
        raise ValidationError(
            field_name,
            f"{quoted(value)} is not an IAM principal ARN pattern "
            "(arn:aws:iam::<12-digit account>:role/NAME or user/NAME, '*' allowed after the account)",
        )
    match = _ROLE_WITH_PATH.fullmatch(value)
    if match is not None and _WILDCARDS & set(value):
        raise ValidationError(
            field_name,
            f"{quoted(value)} puts a role path in a pattern; a session's ARN carries no path, so write "
            "arn:aws:iam::ACCOUNT:role/NAME-PATTERN",
        )
    return value


def _entries(data: Mapping[str, Any], field_name: str) -> list[Any]:
    values = data.get(field_name)
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, list):
        raise ValidationError(field_name, "must be a list")
    if len(values) > MAX_ENTRIES:
        raise ValidationError(field_name, f"{len(values)} entries given; at most {MAX_ENTRIES} are allowed")
    return values


@dataclass(frozen=True)
class DirectoryPolicy:
    """Which names a directory may issue for, and which principals besides the admins may use it."""

    allowed_domains: tuple[str, ...] = ()
    allowed_principals: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: Any) -> DirectoryPolicy:
        """A policy from untrusted input (API body, CLI flags, table item); duplicates are dropped."""
        if not isinstance(data, Mapping):
            raise ValidationError("body", "must be a JSON object")
        unknown = sorted(set(data) - set(POLICY_FIELDS))
        if unknown:
            raise ValidationError(
                field_label(unknown[0]), f"is not a field of a policy (fields: {', '.join(POLICY_FIELDS)})"
            )
        domains = [validate_domain(d, "allowed_domains") for d in _entries(data, "allowed_domains")]
        principals = [validate_principal_pattern(p) for p in _entries(data, "allowed_principals")]
        return cls(tuple(dict.fromkeys(domains)), tuple(dict.fromkeys(principals)))

    @property
    def restricts_domains(self) -> bool:
        """Whether the policy limits the names (an empty ``allowed_domains`` allows any)."""
        return bool(self.allowed_domains)

    def allows_domain(self, domain: str) -> bool:
        """Whether the directory may issue for ``domain``."""
        return not self.restricts_domains or domain_allowed(domain, self.allowed_domains)

    def allows_principal(self, arn: str) -> bool:
        """Whether the caller ``arn`` may use the directory (admins are checked elsewhere)."""
        return principal_allowed(arn, self.allowed_principals)

    def to_dict(self) -> dict[str, Any]:
        """The policy as stored and shown."""
        return {"allowed_domains": list(self.allowed_domains), "allowed_principals": list(self.allowed_principals)}
