"""Signed HTTP Exchange (SXG) certificates, from a DigiCert directory vaulted with ``--sxg``.

Such a certificate signs exchanges, not TLS connections (browsers refuse it on TLS), so:

    spec         ec-p256 only, and no ACM region (it goes to S3 only, never to ACM)
    certificate  carries CanSignHttpExchanges (OID 1.3.6.1.4.1.11129.2.1.22), an EC P-256 key, and
                 lives at most 90 days; anything else is refused before it is delivered anywhere
    CAA          DigiCert issues it only where the names' CAA record allows it with
                 ``cansignhttpexchanges=yes``; checked in Route 53 when the zone is there, a warning if not
"""

from __future__ import annotations

import logging
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from acmevault.domain.certificate import CertificateSpec, KeyType
from acmevault.domain.errors import AcmeVaultError, CertificateRejected, ValidationError
from acmevault.domain.keys import CertificateBundle
from acmevault.ports.delivery import Dns

log = logging.getLogger(__name__)

CAN_SIGN_HTTP_EXCHANGES = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.22")
MAX_LIFETIME = timedelta(days=90)
CAA_PARAMETER = ("cansignhttpexchanges", "yes")


def check_spec(spec: CertificateSpec) -> None:
    """A spec an SXG directory can serve; ValidationError (400, exit 2) names the field otherwise."""
    if spec.key_type is not KeyType.EC_P256:
        raise ValidationError(
            "key_type",
            f"directory {spec.directory!r} issues Signed HTTP Exchange certificates, which must be ec-p256 "
            f"(not {spec.key_type.value})",
        )
    if spec.acm_regions:
        raise ValidationError(
            "acm_regions",
            f"directory {spec.directory!r} issues Signed HTTP Exchange certificates, which never go to ACM "
            "(browsers refuse them on TLS connections); they are written to S3 only: remove acm_regions",
        )


def check_certificate(bundle: CertificateBundle) -> None:
    """Refuse (CertificateRejected) what the CA issued unless it is a usable SXG certificate."""
    certificate = bundle.certificate
    try:
        certificate.extensions.get_extension_for_oid(CAN_SIGN_HTTP_EXCHANGES)
    except x509.ExtensionNotFound:
        raise CertificateRejected(
            f"certificate {bundle.serial} lacks the CanSignHttpExchanges extension "
            f"(OID {CAN_SIGN_HTTP_EXCHANGES.dotted_string}) that a Signed HTTP Exchange directory's certificates "
            "must carry; it was not delivered (is the directory URL the CA's SXG one?)"
        ) from None
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CertificateRejected(f"certificate {bundle.serial}: an SXG certificate must have an EC P-256 key")
    lifetime = bundle.not_after - bundle.not_before
    if lifetime > MAX_LIFETIME:
        raise CertificateRejected(
            f"certificate {bundle.serial} is valid for {lifetime.days} days; an SXG certificate may be valid "
            "for at most 90 days; it was not delivered"
        )


def caa_warnings(spec: CertificateSpec, dns: Dns) -> list[str]:
    """One warning per name whose CAA record in Route 53 does not allow SXG (cansignhttpexchanges=yes).

    The CAA set that applies is the first found climbing from the name to its zone's apex (RFC 8659);
    a name without a Route 53 zone is not checked (its DNS is elsewhere)."""
    warnings = []
    for domain in spec.domains:
        try:
            warning = _caa_warning(domain, spec, dns)
        except AcmeVaultError as error:
            warning = f"{domain}: the CAA record could not be checked: {error.message}"
        if warning is not None:
            warnings.append(warning)
    return warnings


def _caa_warning(domain: str, spec: CertificateSpec, dns: Dns) -> str | None:
    name = domain.removeprefix("*.")
    try:
        zone = dns.zone_for(name, spec.hosted_zone_id, spec.route53_role_arn)
    except AcmeVaultError:
        return None  # no Route 53 zone for it: its CAA is somebody else's to check
    labels = name.split(".")
    # Climbing stops at the first CAA set found; names above the zone's apex are simply not in it.
    for start in range(len(labels) - 1):
        values = dns.caa_values(zone, ".".join(labels[start:]), spec.route53_role_arn)
        if values:
            tag = "issuewild" if domain.startswith("*.") else "issue"
            return None if any(_allows_sxg(v, tag) for v in values) else _missing(domain, zone, name)
    return _missing(domain, zone, name)


def _allows_sxg(value: str, tag: str) -> bool:
    """A Route 53 CAA value (``0 issue "digicert.com; cansignhttpexchanges=yes"``) with the parameter."""
    parts = value.split(None, 2)
    if len(parts) != 3:
        return False
    _flags, found_tag, text = parts
    # issuewild governs wildcards when present; issue otherwise (RFC 8659 §4.3)
    if found_tag.lower() not in ({tag, "issue"} if tag == "issuewild" else {tag}):
        return False
    parameters = text.strip('"').split(";")[1:]
    pairs = [tuple(p.strip().lower().split("=", 1)) for p in parameters if "=" in p]
    return CAA_PARAMETER in pairs


def _missing(domain: str, zone: str, where: str) -> str:
    message = (
        f"{domain}: no CAA record with cansignhttpexchanges=yes in Route 53 zone {zone}; DigiCert issues "
        f'SXG certificates only with one, e.g. {where} CAA 0 issue "digicert.com; cansignhttpexchanges=yes"'
    )
    log.warning("SXG certificate: %s", message, extra={"domain": domain, "zone": zone})
    return message
