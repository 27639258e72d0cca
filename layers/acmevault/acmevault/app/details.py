"""What is said about an issued certificate: the detail of its events, and its metadata.json in S3."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from acmevault.domain.certificate import Certificate, CertificateState
from acmevault.domain.keys import CertificateBundle


def event_detail(cert: Certificate) -> dict[str, Any]:
    """The detail every certificate event carries (README: Events): names, serial, expiry, where it serves."""
    state = cert.state
    return {
        "certificate": cert.spec.name,
        "domains": list(cert.spec.domains),
        "serial": state.serial,
        "not_after": state.not_after.isoformat() if state.not_after else None,
        "acm_arns": dict(state.acm_arns),
        "regions": {r: v.to_dict() for r, v in state.regions.items()},
        "s3_prefix": state.s3_prefix,
        "warnings": list(state.warnings),
    }


def bundle_metadata(cert: Certificate, bundle: CertificateBundle) -> dict[str, Any]:
    """metadata.json beside the PEM files: what was issued, by whom, and where it serves."""
    return {
        "name": cert.spec.name,
        "domains": list(cert.spec.domains),
        "key_type": cert.spec.key_type.value,
        "directory": cert.spec.directory,
        "serial": bundle.serial,
        "issuer": bundle.certificate.issuer.rfc4514_string(),
        "not_before": bundle.not_before.isoformat(),
        "not_after": bundle.not_after.isoformat(),
        "acm_arns": dict(cert.state.acm_arns),
        "regions": {r: v.to_dict() for r, v in cert.state.regions.items()},
        "issuer_directory_url": cert.state.issuer_directory_url,
    }


def days_left(state: CertificateState, now: datetime) -> float:
    """Days until the serving certificate expires (0 when nothing was issued)."""
    return 0.0 if state.not_after is None else (state.not_after - now).total_seconds() / 86400
