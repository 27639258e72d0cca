"""Define a certificate, or change its spec: what is asked for, checked, written, and made due if not served.

The next issuance follows from the spec: a new certificate is due at once; a change the serving
certificate does not satisfy (names, key type, a region added) makes it due now; an ACM region dropped
from the spec keeps its ARN and is told about ("Certificate Region Dropped").
"""

from __future__ import annotations

import logging

from acmevault.app.authorization import Permit
from acmevault.app.notices import Notice, tell
from acmevault.app.regions import acm_regions, dropped_regions, serves_everywhere
from acmevault.app.services import Services
from acmevault.domain.certificate import Certificate, CertificateSpec, Status
from acmevault.domain.errors import CertificateNotFound, ConflictError

log = logging.getLogger(__name__)


def define_certificate(spec: CertificateSpec, services: Services, permit: Permit | None = None) -> Certificate:
    """Create or change a certificate spec; its directory must exist (and, if SXG, allow the spec).

    Refused (Forbidden), for everyone, when a name lies outside the directory's allowed_domains; refused
    (ConflictError) when the key type of an issued certificate would change: ACM keeps an ARN's key type.
    Whether the caller may use the directory at all was asked before (``Gate``, giving the ``permit``);
    the permit is recorded in the audit history as the spec is written.

    A change the serving certificate does not satisfy (names, a region added) makes it due now; an ACM
    region dropped from the spec keeps its ARN and is reported (event and view).
    """
    if services.accounts.require(spec.directory).sxg:
        from acmevault.app import sxg  # cryptography: only for a directory that issues SXG certificates

        sxg.check_spec(spec)  # bad input, refused before anything is decided or written
    caller, route = (permit.caller, permit.route) if permit else (None, "define")
    services.gate.check_names(caller, route, spec.name, spec.directory, spec.domains)
    try:
        existing: Certificate | None = services.certificates.get(spec.name)
    except CertificateNotFound:
        existing = None
    if existing is not None and existing.state.serial is not None and existing.spec.key_type != spec.key_type:
        raise ConflictError(
            f"certificate {spec.name!r} was issued with key_type {existing.spec.key_type.value}, and ACM keeps "
            f"an ARN's key type: define a new certificate (another name) for {spec.key_type.value}"
        )
    now = services.clock()
    defined = services.certificates.put_spec(spec, now)
    if permit is not None:
        permit.record()
    issued = defined.state.serial is not None and defined.state.status is not Status.REVOKED
    if issued and not serves_everywhere(defined.state, spec, acm_regions(spec, services)):
        services.certificates.mark_due(spec.name, now)
        defined = services.certificates.get(spec.name)
    if existing is not None:
        newly_dropped = set(dropped_regions(defined, services)) - set(dropped_regions(existing, services))
        for region in sorted(newly_dropped):
            _tell_region_dropped(defined, region, services)
    return defined


def _tell_region_dropped(cert: Certificate, region: str, services: Services) -> None:
    arn = cert.state.regions[region].arn
    log.warning("ACM region dropped from the spec", extra={"certificate": cert.spec.name, "region": region})
    detail = {
        "certificate": cert.spec.name,
        "region": region,
        "arn": arn,
        "serial": cert.state.regions[region].serial,
        "message": f"the spec no longer names {region}: its ACM certificate {arn} is left in place and no longer "
        f"renewed; 'acmevault cert forget-region {cert.spec.name} {region} [--delete]' stops reporting it",
    }
    tell(services, cert.spec.name, Notice.CERTIFICATE_REGION_DROPPED, detail)
