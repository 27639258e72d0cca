"""Issue (or renew) one certificate: the ACME flow, top to bottom.

    spec → account session → key + CSR → new order
         → skip authorizations the CA already holds valid (pre-validated OV/EV, reuse)
         → prove the rest with dns-01 in Route 53 (publish, answer, poll, always clean up)
         → finalize → check the bundle → ACM (each region, same ARN) → S3 → record → event

On any failure the previous certificate keeps serving: ACM and S3 are written only
with a certificate that has been issued and checked, and the record keeps its
previous serial, dates and ARNs, with the error and a failure count beside them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from acme import messages

from .accounts import Accounts
from .acme_session import AcmeSession, Order
from .aws.s3 import prefix_for
from .errors import AcmeVaultError, AuthorizationRequired
from .keys import CertificateBundle, build_csr, generate_private_key, private_key_pem
from .model import Certificate, CertificateSpec, CertificateState, Challenge, Status, default_renew_at
from .ports import CertificateManager, Certificates, Directories, Dns, Events, Files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    """Everything a use case talks to; built once per container by acmevault.services."""

    directories: Directories
    accounts: Accounts
    certificates: Certificates
    dns: Dns
    acm: CertificateManager
    files: Files
    events: Events
    default_acm_regions: tuple[str, ...]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def define_certificate(spec: CertificateSpec, services: Services) -> Certificate:
    """Create or change a certificate spec; its directory must exist."""
    services.accounts.require(spec.directory)
    return services.certificates.put_spec(spec, services.clock())


def issue_certificate(name: str, services: Services, deadline: float) -> Certificate:
    """Obtain a new certificate for ``name`` and put it everywhere it is served from."""
    current = services.certificates.get(name)
    spec = current.spec
    log.info("issuing certificate", extra={"certificate": name, "domains": len(spec.domains)})
    try:
        session = services.accounts.session(spec.directory)
        bundle = obtain_certificate(session, spec, services.dns, deadline)
        issued = publish_certificate(current, bundle, session.account_url, services)
    except AcmeVaultError as error:
        _record_failure(current, error, services)
        raise
    renewed = current.state.serial is not None
    services.events.publish("Certificate Renewed" if renewed else "Certificate Issued", _event_detail(issued))
    log.info("certificate issued", extra={"certificate": name, "serial": issued.state.serial})
    return issued


def obtain_certificate(session: AcmeSession, spec: CertificateSpec, dns: Dns, deadline: float) -> CertificateBundle:
    if spec.challenge is Challenge.DNS_01:
        # Preflight: every name must have a zone before we spend an order on it.
        for domain in spec.domains:
            dns.zone_for(domain, spec.hosted_zone_id)
    key = generate_private_key(spec.key_type)
    order = session.new_order(build_csr(key, spec.domains), spec.profile)
    pending = order.pending()
    if pending and spec.challenge is Challenge.NONE:
        raise AuthorizationRequired(_domain(pending[0]))
    if pending:
        prove_with_dns01(session, order, spec, dns, deadline)
    fullchain = session.finalize(order, deadline)
    return CertificateBundle.from_fullchain(fullchain, private_key_pem(key), spec.domains)


def prove_with_dns01(session: AcmeSession, order: Order, spec: CertificateSpec, dns: Dns, deadline: float) -> None:
    challenges = [session.dns_challenge(authz) for authz in order.pending()]
    records = [(dns.zone_for(c.domain, spec.hosted_zone_id), c.record_name, c.record_value) for c in challenges]
    try:
        dns.publish(records, deadline)
        for challenge in challenges:
            session.answer(challenge)
        for challenge in challenges:
            session.wait_for_authorization(challenge.authorization_url, deadline)
    finally:
        dns.remove(records)


def publish_certificate(
    current: Certificate, bundle: CertificateBundle, account_url: str | None, services: Services
) -> Certificate:
    spec = current.spec
    arns = dict(current.state.acm_arns)
    for region in spec.acm_regions or services.default_acm_regions:
        arns[region] = services.acm.import_certificate(region, spec.name, bundle, arns.get(region))
    state = CertificateState(
        status=Status.ISSUED,
        serial=bundle.serial,
        not_before=bundle.not_before,
        not_after=bundle.not_after,
        renew_at=default_renew_at(bundle.not_before, bundle.not_after),
        acm_arns=arns,
        s3_prefix=prefix_for(spec.name),
        account_url=account_url,
        updated_at=services.clock(),
    )
    issued = Certificate(spec, state)
    services.files.put_bundle(spec.name, bundle, _metadata(issued, bundle))
    services.certificates.save_state(spec.name, state)
    return issued


def _record_failure(current: Certificate, error: AcmeVaultError, services: Services) -> None:
    state = current.state
    failed = replace(
        state,
        status=Status.FAILED if state.serial is None else state.status,
        last_error=f"{error.code}: {error.message}",
        consecutive_failures=state.consecutive_failures + 1,
        updated_at=services.clock(),
    )
    try:
        services.certificates.save_state(current.spec.name, failed)
    except AcmeVaultError:
        log.exception("could not record the failure", extra={"certificate": current.spec.name})
    log.warning("issuance failed", extra={"certificate": current.spec.name, "error": error.code})


def _domain(authz: messages.AuthorizationResource) -> str:
    """The name as the spec gives it: a wildcard authorization's identifier drops the "*."."""
    return ("*." if authz.body.wildcard else "") + str(authz.body.identifier.value)


def _metadata(cert: Certificate, bundle: CertificateBundle) -> dict[str, Any]:
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
    }


def _event_detail(cert: Certificate) -> dict[str, Any]:
    state = cert.state
    return {
        "certificate": cert.spec.name,
        "domains": list(cert.spec.domains),
        "serial": state.serial,
        "not_after": state.not_after.isoformat() if state.not_after else None,
        "acm_arns": dict(state.acm_arns),
        "s3_prefix": state.s3_prefix,
    }
