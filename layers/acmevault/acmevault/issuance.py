"""Issue (or renew) one certificate: the ACME flow, top to bottom.

    lease → spec → due? (else: re-check ARI, done) → account session
         → resume the order in flight, or: key + CSR → new order (replaces: the old one, ARI)
           → persist the order and the encrypted key
         → skip authorizations the CA already holds valid (pre-validated OV/EV, reuse)
         → prove the rest with dns-01 in Route 53 (publish, answer, poll, always clean up)
         → finalize → download → persist the certificate → check the bundle
         → ACM (each region, same ARN) → S3 → record → event

On any failure the previous certificate keeps serving: ACM and S3 are written only
with a certificate that has been issued and checked, and the record keeps its
previous serial, dates and ARNs, with the error, a failure count and a retry time
beside them. A worker that dies part-way leaves the order (or the downloaded
certificate) on the record, and the next attempt finishes it instead of ordering again.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from acme import messages
from cryptography import x509

from . import ari
from .accounts import Accounts
from .acme_session import AcmeSession, Order
from .authorization import Gate, Permit
from .aws.s3 import prefix_for
from .errors import (
    AcmeVaultError,
    AuthorizationRequired,
    CertificateNotFound,
    ConflictError,
    OutOfTime,
    UnavailableError,
)
from .keys import CertificateBundle, build_csr, generate_private_key, load_private_key, private_key_pem
from .model import (
    Certificate,
    CertificateSpec,
    CertificateState,
    Challenge,
    PendingOrder,
    Status,
    default_alert_at,
    default_renew_at,
    retry_delay,
)
from .ports import Alerts, CertificateManager, Certificates, Directories, Dns, Events, Files, KeyVault, Metrics

log = logging.getLogger(__name__)

LEASE_SECONDS = 900.0  # longer than one Lambda invocation can run
VALIDATION_RESERVE_SECONDS = 10.0  # budget a CA's dns-01 check needs at least, once answered


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
    alerts: Alerts
    keys: KeyVault
    metrics: Metrics
    default_acm_regions: tuple[str, ...]
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    rng: random.Random = field(default_factory=random.Random)

    @property
    def gate(self) -> Gate:
        """Authorization decisions over these services, each written to the audit history."""
        return Gate(self.accounts, self.certificates, self.accounts, self.clock)


def define_certificate(spec: CertificateSpec, services: Services, permit: Permit | None = None) -> Certificate:
    """Create or change a certificate spec; its directory must exist.

    Refused (Forbidden), for everyone, when a name lies outside the directory's allowed_domains; refused
    (ConflictError) when the key type of an issued certificate would change: ACM keeps an ARN's key type.
    Whether the caller may use the directory at all was asked before (``Gate``, giving the ``permit``);
    the permit is recorded in the audit history as the spec is written.
    """
    services.accounts.require(spec.directory)
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
    defined = services.certificates.put_spec(spec, services.clock())
    if permit is not None:
        permit.record()
    return defined


def is_due(cert: Certificate, now: datetime) -> bool:
    state = cert.state
    if state.serial is None or state.pending is not None or state.status is Status.REVOKED:
        return True  # never issued, an order to finish, or revoked: the next action is an issue
    if state.retry_at is not None:
        return now >= state.retry_at
    return state.renew_at is None or now >= state.renew_at


def issue_certificate(name: str, services: Services, deadline: float) -> Certificate:
    """Obtain a new certificate for ``name`` now and put it everywhere it is served from.

    Raises LeaseHeld when another worker is on the same certificate.
    """
    with _lease(name, services):
        return _issue(services.certificates.get(name), services, deadline)


def renew_if_due(name: str, services: Services, deadline: float) -> Certificate | None:
    """The scheduled path: issue if due; otherwise ask the CA again for its renewal window when that
    is due (ARI). None when nothing was issued."""
    with _lease(name, services):
        current = services.certificates.get(name)
        if not is_due(current, services.clock()):
            refresh_renewal_time(current, services)
            return None
        return _issue(current, services, deadline)


@contextmanager
def _lease(name: str, services: Services) -> Iterator[None]:
    """One order at a time per certificate: a conditional write with an expiry, released at the end."""
    owner = uuid.uuid4().hex
    services.certificates.acquire_lease(name, owner, services.clock(), LEASE_SECONDS)
    try:
        yield
    finally:
        services.certificates.release_lease(name, owner)


def _issue(current: Certificate, services: Services, deadline: float) -> Certificate:
    spec = current.spec
    log.info("issuing certificate", extra={"certificate": spec.name, "domains": len(spec.domains)})
    record = Record(current, services)
    try:
        # A policy narrowed since the spec was defined stops the next issuance, not only the next PUT.
        services.gate.check_names(None, "issue", spec.name, spec.directory, spec.domains)
        session = services.accounts.session(spec.directory)
        bundle = obtain_certificate(session, record, deadline)
        issued = publish_certificate(record, bundle, session)
    except AcmeVaultError as error:
        _record_failure(record.cert, error, services)
        raise
    renewed = current.state.serial is not None
    with _telling(spec.name):
        services.events.publish("Certificate Renewed" if renewed else "Certificate Issued", _event_detail(issued))
    services.metrics.certificate_issued(spec.name, _days_left(issued.state, services.clock()))
    log.info("certificate issued", extra={"certificate": spec.name, "serial": issued.state.serial})
    return issued


@dataclass
class Record:
    """The certificate's record as this attempt writes it: each step is saved before the next begins."""

    cert: Certificate
    services: Services

    def save(self, **changes: Any) -> None:
        self.cert = replace(self.cert, state=replace(self.cert.state, **changes))
        self.services.certificates.save_state(self.cert.spec.name, self.cert.state)


def obtain_certificate(session: AcmeSession, record: Record, deadline: float) -> CertificateBundle:
    spec, pending, services = record.cert.spec, record.cert.state.pending, record.services
    if pending is not None and pending.account_url != session.account_url:
        pending = None  # placed through an account this directory no longer uses: order again
    if pending is not None and pending.fullchain is not None:
        log.info("pushing a certificate downloaded earlier", extra={"certificate": spec.name})
        return _bundle(pending.fullchain, services.keys.decrypt(spec.name, pending.encrypted_key), spec)
    resumed = _resume(session, spec, pending, services) if pending is not None else None
    key_pem, order = resumed or _place_order(session, record)
    to_prove = [a for a in order.pending() if a.body.status == messages.STATUS_PENDING]
    if to_prove and spec.challenge is Challenge.NONE:
        raise AuthorizationRequired(_domain(to_prove[0]))
    if to_prove:
        prove_with_dns01(session, order, spec, services.dns, deadline)
    fullchain = session.finalize(order, deadline)
    if record.cert.state.pending is not None:
        record.save(pending=replace(record.cert.state.pending, fullchain=fullchain))
    return _bundle(fullchain, key_pem, spec)


def _place_order(session: AcmeSession, record: Record) -> tuple[str, Order]:
    current, services = record.cert, record.services
    spec = current.spec
    if spec.challenge is Challenge.DNS_01:
        # Preflight: every name must have a zone before we spend an order on it.
        for domain in spec.domains:
            services.dns.zone_for(domain, spec.hosted_zone_id, spec.route53_role_arn)
    key_pem = private_key_pem(generate_private_key(spec.key_type))
    encrypted = services.keys.encrypt(spec.name, key_pem)
    csr = build_csr(load_private_key(key_pem), spec.domains)
    placed = session.place_order(csr, spec.profile, replaces=_replaces(current, session))
    # Recorded before anything else can fail: from here on a crash resumes this order.
    if encrypted is not None and session.account_url is not None:
        record.save(pending=PendingOrder(placed.url, session.account_url, encrypted))
    return key_pem, session.with_authorizations(placed)


def _resume(
    session: AcmeSession, spec: CertificateSpec, pending: PendingOrder, services: Services
) -> tuple[str, Order] | None:
    """The order a previous attempt placed, if the CA can still finish it."""
    key_pem = services.keys.decrypt(spec.name, pending.encrypted_key)
    order = session.fetch_order(pending.order_url, build_csr(load_private_key(key_pem), spec.domains))
    if order.resource.body.status == messages.STATUS_INVALID:
        log.info("the order in flight became invalid; ordering again", extra={"certificate": spec.name})
        return None
    log.info("resuming the order in flight", extra={"certificate": spec.name, "order": order.url})
    return key_pem, order


def _replaces(current: Certificate, session: AcmeSession) -> str | None:
    """ARI "replaces": the certificate being renewed — only when the same account issued it,
    since CAs reject a replacement across accounts (after a directory rotation)."""
    state = current.state
    if not session.supports_ari or state.certificate_pem is None or state.account_url != session.account_url:
        return None
    return ari.certificate_id(x509.load_pem_x509_certificate(state.certificate_pem.encode()))


def prove_with_dns01(session: AcmeSession, order: Order, spec: CertificateSpec, dns: Dns, deadline: float) -> None:
    """Publish, answer, wait for the CA; the records are removed in every case. A challenge is not
    answered without time left to see the CA's check through: the order stays open for the next attempt."""
    challenges = [session.dns_challenge(a) for a in order.pending() if a.body.status == messages.STATUS_PENDING]
    role = spec.route53_role_arn  # zones in another AWS account are written as this role
    records = [(dns.zone_for(c.domain, spec.hosted_zone_id, role), c.record_name, c.record_value) for c in challenges]
    try:
        dns.publish(records, deadline, role)
        if time.monotonic() + VALIDATION_RESERVE_SECONDS > deadline:
            raise OutOfTime("too little time is left to answer the dns-01 challenges; the order is kept for later")
        for challenge in challenges:
            session.answer(challenge)
        for challenge in challenges:
            session.wait_for_authorization(challenge.authorization_url, deadline)
    finally:
        dns.remove(records, role)


def publish_certificate(record: Record, bundle: CertificateBundle, session: AcmeSession) -> Certificate:
    """ACM in every region (same ARN), then S3, then the record; the order in flight is cleared last."""
    spec, services = record.cert.spec, record.services
    arns = dict(record.cert.state.acm_arns)
    for region in spec.acm_regions or services.default_acm_regions:
        arn = services.acm.import_certificate(region, spec.name, bundle, arns.get(region))
        if record.cert.state.status is Status.REVOKED:
            services.acm.clear_revoked(region, arn)  # the ARN serves a valid certificate again
        if arns.get(region) != arn:
            arns[region] = arn
            record.save(acm_arns=dict(arns))  # a new ARN is kept at once: a retry re-imports into it
    state = CertificateState(
        status=Status.ISSUED,
        serial=bundle.serial,
        not_before=bundle.not_before,
        not_after=bundle.not_after,
        renew_at=default_renew_at(bundle.not_before, bundle.not_after, spec.renew_fraction),
        acm_arns=arns,
        s3_prefix=prefix_for(spec.name),
        account_url=session.account_url,
        updated_at=services.clock(),
        alert_at=default_alert_at(bundle.not_before, bundle.not_after),
        certificate_pem=bundle.certificate_pem,
    )
    if session.supports_ari:
        state = _with_ari(state, session, bundle.certificate, services)
    issued = Certificate(spec, state)
    services.files.put_bundle(spec.name, bundle, _metadata(issued, bundle))
    services.certificates.save_state(spec.name, state)
    return issued


def refresh_renewal_time(current: Certificate, services: Services) -> Certificate:
    """Not due: ask the CA again for its renewal window if that time has come (ARI), and record it."""
    state, now = current.state, services.clock()
    if state.ari_check_at is None or now < state.ari_check_at or state.certificate_pem is None:
        return current
    session = services.accounts.session(current.spec.directory)
    certificate = x509.load_pem_x509_certificate(state.certificate_pem.encode())
    updated = Certificate(current.spec, _with_ari(state, session, certificate, services))
    services.certificates.save_state(current.spec.name, updated.state)
    return updated


def _with_ari(
    state: CertificateState, session: AcmeSession, certificate: x509.Certificate, services: Services
) -> CertificateState:
    now = services.clock()
    try:
        document, retry_after = session.renewal_info(ari.certificate_id(certificate))
        plan = ari.plan(document, retry_after, now, services.rng)
    except (AcmeVaultError, ValueError) as error:
        log.warning("renewal information unavailable", extra={"error": type(error).__name__})
        plan = ari.failed(now)
    return replace(state, renew_at=plan.renew_at or state.renew_at, ari_check_at=plan.check_again_at)


def _record_failure(current: Certificate, error: AcmeVaultError, services: Services) -> None:
    state, now = current.state, services.clock()
    failures = state.consecutive_failures + 1
    retry_after = error.retry_after if isinstance(error, UnavailableError) else None
    failed = replace(
        state,
        status=Status.FAILED if state.serial is None else state.status,
        last_error=f"{error.code}: {error.message}",
        consecutive_failures=failures,
        retry_at=now + retry_delay(failures, retry_after, services.rng.random()),
        updated_at=now,
    )
    try:
        services.certificates.save_state(current.spec.name, failed)
    except AcmeVaultError:
        log.exception("could not record the failure", extra={"certificate": current.spec.name})
    log.warning("issuance failed", extra={"certificate": current.spec.name, "error": error.code})
    services.metrics.renewal_failed(current.spec.name)
    detail = {**_event_detail(Certificate(current.spec, failed)), "error": error.code, "message": error.message}
    with _telling(current.spec.name):
        services.events.publish("Certificate Renewal Failed", detail)
    with _telling(current.spec.name):
        services.alerts.notify(
            f"acmevault: renewal of {current.spec.name} failed",
            f"{current.spec.name} ({', '.join(current.spec.domains)}): {error.message}\n"
            f"Failures in a row: {failures}. Next attempt after {failed.retry_at:%Y-%m-%d %H:%M} UTC. "
            "The previous certificate, if any, is still serving.",
        )


@contextmanager
def _telling(name: str) -> Iterator[None]:
    """An event or alert that cannot go out is logged; it never changes what happened to the certificate."""
    try:
        yield
    except AcmeVaultError as error:
        log.error("could not tell people", extra={"certificate": name, "error": error.message})


def _bundle(fullchain: str, key_pem: str, spec: CertificateSpec) -> CertificateBundle:
    return CertificateBundle.from_fullchain(fullchain, key_pem, spec.domains)


def _days_left(state: CertificateState, now: datetime) -> float:
    return 0.0 if state.not_after is None else (state.not_after - now).total_seconds() / 86400


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
