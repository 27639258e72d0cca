"""What a person or a system is shown of a directory or a certificate (API responses, `--json`).

Never a secret: no HMAC key, no account key, no private key; the EAB key id is masked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .model import Certificate
from .ports import Directories


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def directory_view(name: str, directories: Directories) -> dict[str, Any]:
    """Host, masked KID, account URL and the secret's version dates and stages."""
    credential = directories.get(name)
    return {
        "name": name,
        "status": "registered" if credential.account_url else "unregistered",
        **credential.public_view(),
        **directories.describe(name),
    }


def certificate_view(cert: Certificate) -> dict[str, Any]:
    state = cert.state
    return {
        "name": cert.spec.name,
        **cert.spec.to_dict(),
        "status": state.status.value,
        "serial": state.serial,
        "not_before": _iso(state.not_before),
        "not_after": _iso(state.not_after),
        "renew_at": _iso(state.renew_at),
        "acm_arns": dict(state.acm_arns),
        "s3_prefix": state.s3_prefix,
        "account_url": state.account_url,
        "last_error": state.last_error,
        "consecutive_failures": state.consecutive_failures,
        "updated_at": _iso(state.updated_at),
    }
