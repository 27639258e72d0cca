"""The DNS records acmevault writes: a dns-01 challenge's TXT record (RFC 8555 §8.4)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TxtRecord:
    """One value of a TXT record in a hosted zone: ``_acme-challenge.<domain>`` and the challenge's answer.

    A wildcard and its apex share a name: two records with one name and two values.
    """

    zone: str  # the hosted zone's id
    name: str
    value: str
