"""Issue (or renew) one certificate: the ACME flow, top to bottom.

    lease → spec → due? (else: re-check ARI, done; or only an ACM region lags: re-import it, done)
         → account session
         → a certificate downloaded earlier: push it if it still covers the spec, else drop it
         → resume the order in flight if it was placed for this spec, or: key + CSR → new order
           (replaces: the old one, ARI) → persist the order, what it is for, and the encrypted key
         → check the CA's order and authorizations are for exactly the spec's names
         → skip authorizations the CA already holds valid (pre-validated OV/EV, reuse)
         → prove the rest with dns-01 in Route 53 (publish, answer, poll, always clean up)
         → finalize → download → persist the certificate → check the bundle (from an SXG directory: sxg.py)
         → ACM (each region on its own, same ARN; never for SXG) → S3 → record (with the issuing directory URL)
         → event

An order the CA keeps "processing" past the worker's patience (an approval) is not a failure: the
record says awaiting_ca and the worker comes back for the same order (awaiting.py).

On any failure before ACM the previous certificate keeps serving: ACM and S3 are written only
with a certificate that has been issued and checked, and the record keeps its previous serial,
dates and ARNs, with the error, a failure count and a retry time beside them (failures.py). One ACM
region failing holds back nothing else: S3 and the record move on, the region is marked failed and
is re-imported later from the key kept for it, without a new order (regions.py). A worker that
dies part-way leaves the order (or the downloaded certificate) on the record, and the next
attempt finishes it instead of ordering again — unless the spec changed meanwhile: then it is
dropped (or, downloaded and still covering the spec, pushed) and the spec is ordered as it is
(pending.py). Every state write is fenced by the worker's lease: one whose lease ran out writes
nothing (record.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from cryptography import x509

from acmevault.app import sxg
from acmevault.app.awaiting import record_waiting
from acmevault.app.details import bundle_metadata, days_left, event_detail
from acmevault.app.failures import record_failure
from acmevault.app.notices import Notice, tell
from acmevault.app.pending import downloaded, drop_pending, follow_spec_changes, save_issued
from acmevault.app.record import Record, lease
from acmevault.app.regions import (
    acm_regions,
    catch_up_regions,
    import_everywhere,
    only_regions_lag,
    regions_failed,
    settle_catch_up,
    tell_failed_regions,
)
from acmevault.app.renewal_window import refresh_renewal_time, with_renewal_window
from acmevault.app.services import Services
from acmevault.domain import ari
from acmevault.domain.certificate import (
    Certificate,
    CertificateSpec,
    CertificateState,
    Challenge,
    PendingOrder,
    RegionStatus,
    Status,
    default_alert_at,
    default_renew_at,
    is_due,
    s3_prefix_for,
)
from acmevault.domain.dns import TxtRecord
from acmevault.domain.errors import (
    AcmeVaultError,
    AuthorizationRequired,
    AwaitingCa,
    AwsUnavailable,
    CertificateRejected,
    DnsError,
    LeaseLost,
    OrderMismatch,
    OutOfTime,
)
from acmevault.domain.keys import CertificateBundle, build_csr, generate_private_key, load_private_key, private_key_pem
from acmevault.domain.orders import Order, OrderStatus
from acmevault.ports.ca import CaSession
from acmevault.ports.delivery import Dns

log = logging.getLogger(__name__)

VALIDATION_RESERVE_SECONDS = 10.0  # budget a CA's dns-01 check needs at least, once answered


def issue_certificate(name: str, services: Services, deadline: float) -> Certificate:
    """Obtain a new certificate for ``name`` now and put it everywhere it is served from.

    Raises LeaseHeld when another worker is on the same certificate.
    """
    with lease(name, services) as held:
        return _issue(held.cert, services, deadline, held.owner)


def renew_on_request(
    name: str, services: Services, deadline: float, requested_serial: str | None
) -> Certificate | None:
    """An on-demand renewal asked for while ``requested_serial`` was serving (None: never issued).

    None, and nothing done, when the certificate has moved past that serial: the request was
    fulfilled already (a message delivered again: SQS delivers at least once).
    """
    with lease(name, services) as held:
        current = held.cert
        if current.state.serial != requested_serial:
            log.info("already renewed since it was asked for", extra={"certificate": name})
            return None
        return _issue(current, services, deadline, held.owner)


def renew_if_due(name: str, services: Services, deadline: float) -> Certificate | None:
    """The scheduled path: issue if due; otherwise ask the CA again for its renewal window when that
    is due (ARI). A lagging ACM region is caught up from the serving certificate, without a new order.
    None when nothing was issued or imported."""
    with lease(name, services) as held:
        current, owner = held.cert, held.owner
        now, regions = services.clock(), acm_regions(current.spec, services)
        current = settle_catch_up(current, regions, Record(current, services, owner))
        if not is_due(current, now, regions):
            refresh_renewal_time(current, services, owner)
            return None
        if only_regions_lag(current, regions, now):
            return catch_up_regions(Record(current, services, owner))
        return _issue(current, services, deadline, owner)


def _issue(current: Certificate, services: Services, deadline: float, owner: str) -> Certificate:
    spec = current.spec
    log.info("issuing certificate", extra={"certificate": spec.name, "domains": len(spec.domains)})
    record = Record(current, services, owner)
    try:
        # A policy narrowed since the spec was defined stops the next issuance, not only the next PUT; a
        # directory marked lost stops it too. Both are read afresh at each issuance, in one read.
        state, policy = services.accounts.state_and_policy(spec.directory)
        services.gate.check_names_under(policy, None, "issue", spec.name, spec.directory, spec.domains)
        session = services.accounts.session(spec.directory, state)
        for_sxg = services.accounts.require(spec.directory).sxg
        if for_sxg:
            sxg.check_spec(spec)  # defined before its directory became SXG: refused before ordering
        bundle, exact = obtain_certificate(session, record, deadline)
        if for_sxg:
            _check_sxg(bundle, record)
        issued, latest = publish_certificate(record, bundle, session, for_sxg)
    except LeaseLost:
        raise  # another worker owns the certificate now: its state is not ours to mark failed
    except AwaitingCa as waiting:
        return record_waiting(record, waiting)  # not a failure: the worker comes back
    except AcmeVaultError as error:
        record_failure(record, error)
        raise
    renewed = current.state.serial is not None
    notice = Notice.CERTIFICATE_RENEWED if renewed else Notice.CERTIFICATE_ISSUED
    tell(services, spec.name, notice, event_detail(issued))
    services.metrics.certificate_issued(spec.name, days_left(issued.state, services.clock()))
    log.info("certificate issued", extra={"certificate": spec.name, "serial": issued.state.serial})
    tell_failed_regions(issued, services)
    if not exact:
        # A certificate downloaded for an earlier spec still covered this one and now serves: order the exact one.
        log.info("ordering again for the spec as it is now", extra={"certificate": spec.name})
        return _issue(issued, services, deadline, owner)
    return follow_spec_changes(issued, latest, record)


def obtain_certificate(session: CaSession, record: Record, deadline: float) -> tuple[CertificateBundle, bool]:
    """The certificate to serve, and whether it is exactly the spec's (False: a certificate downloaded for
    an earlier spec that still covers this one; it is served, then the exact one is ordered)."""
    spec, pending, services = record.cert.spec, record.cert.state.pending, record.services
    if pending is not None and pending.account_url != session.account_url:
        pending = None  # placed through an account this directory no longer uses: order again
    if pending is not None and pending.fullchain is not None:
        earlier = downloaded(pending, spec, record)
        if earlier is not None:
            return earlier
        pending = None
    if pending is not None and not pending.placed_for(spec):
        drop_pending(record, "the spec changed since the order was placed")
        pending = None
    awaited = record.cert.state.awaiting_since is not None
    resumed = _resume(session, spec, pending, record, awaited) if pending is not None else None
    key_pem, order = resumed or _place_order(session, record)
    _check_order(order, spec, record)
    to_prove = order.to_prove()
    if to_prove and spec.challenge is Challenge.NONE:
        raise AuthorizationRequired(to_prove[0].domain)
    if to_prove:
        prove_with_dns01(session, order, spec, services.dns, deadline)
    fullchain = session.finalize(order, deadline)
    if record.cert.state.pending is not None:
        record.save(pending=replace(record.cert.state.pending, fullchain=fullchain))
    try:
        return CertificateBundle.from_fullchain(fullchain, key_pem, spec.domains), True
    except CertificateRejected:
        drop_pending(record, "the CA's certificate failed the checks")  # never pushed; the next attempt orders again
        raise


def _check_order(order: Order, spec: CertificateSpec, record: Record) -> None:
    """The CA's order and authorizations must be for exactly the spec's names before any DNS record is
    written: an order for other names is dropped and refused, never proved."""
    wanted = set(spec.domains)
    ordered = {i.lower() for i in order.identifiers}
    authorized = {a.domain.lower() for a in order.authorizations}
    if ordered == wanted and authorized == wanted:
        return
    drop_pending(record, "the CA's order is for other names than the spec")
    raise OrderMismatch(order.url, sorted(ordered | authorized), sorted(wanted))


def _place_order(session: CaSession, record: Record) -> tuple[str, Order]:
    current, services = record.cert, record.services
    spec = current.spec
    _zone_preflight(spec, services.dns)
    key_pem = private_key_pem(generate_private_key(spec.key_type))
    encrypted = services.keys.encrypt(spec.name, key_pem)
    csr = build_csr(load_private_key(key_pem), spec.domains)
    placed = session.place_order(csr, spec.profile, replaces=_replaces(current, session))
    # Recorded before anything else can fail: from here on a crash resumes this order.
    if encrypted is not None and session.account_url is not None:
        order = PendingOrder(
            placed.url,
            session.account_url,
            encrypted,
            domains=spec.domains,
            key_type=spec.key_type,
            directory=spec.directory,
        )
        record.save(pending=order)
    return key_pem, session.with_authorizations(placed)


def _zone_preflight(spec: CertificateSpec, dns: Dns) -> None:
    """Before an order is spent: every name that may need dns-01 has a Route 53 zone we can reach.

    dns-01: every name. auto: every name too, except that a name without a zone (or while Route 53 is
    throttling) may be pre-validated at the CA and need no Route 53 at all, which only an order's
    authorizations tell; if it is not, the order (recorded, so a retry resumes it rather than ordering
    again) fails before any challenge is answered.
    """
    if spec.challenge is Challenge.NONE:
        return
    for domain in spec.domains:
        try:
            dns.zone_for(domain, spec.hosted_zone_id, spec.route53_role_arn)
        except (DnsError, AwsUnavailable):
            if spec.challenge is Challenge.DNS_01:
                raise


def _resume(
    session: CaSession, spec: CertificateSpec, pending: PendingOrder, record: Record, awaited: bool = False
) -> tuple[str, Order] | None:
    """The order a previous attempt placed, if the CA can still finish it. One the CA held for its
    approval and then marked invalid is kept: finalizing it reports the CA's reason as the failure,
    where ordering again at once would only file another request for the approver to refuse."""
    key_pem = record.services.keys.decrypt(spec.name, pending.encrypted_key)
    domains = pending.domains if pending.domains is not None else spec.domains
    order = session.fetch_order(pending.order_url, build_csr(load_private_key(key_pem), domains))
    if order.status is OrderStatus.INVALID and not awaited:
        log.info("the order in flight became invalid; ordering again", extra={"certificate": spec.name})
        return None
    if {i.lower() for i in order.identifiers} != set(spec.domains):
        drop_pending(record, "the order in flight is for other names than the spec")
        return None
    log.info("resuming the order in flight", extra={"certificate": spec.name, "order": order.url})
    return key_pem, order


def _replaces(current: Certificate, session: CaSession) -> str | None:
    """ARI "replaces": the certificate being renewed — only when the same account issued it,
    since CAs reject a replacement across accounts (after a directory rotation)."""
    state = current.state
    if not session.supports_ari or state.certificate_pem is None or state.account_url != session.account_url:
        return None
    return ari.certificate_id(x509.load_pem_x509_certificate(state.certificate_pem.encode()))


def prove_with_dns01(session: CaSession, order: Order, spec: CertificateSpec, dns: Dns, deadline: float) -> None:
    """Publish, answer, wait for the CA; the records are removed in every case. A challenge is not
    answered without time left to see the CA's check through: the order stays open for the next attempt."""
    challenges = []
    for authorization in order.to_prove():
        if authorization.dns_challenge is None:
            raise AuthorizationRequired(authorization.identifier)  # the CA offers no dns-01 for it
        challenges.append(authorization.dns_challenge)
    role = spec.route53_role_arn  # zones in another AWS account are written as this role
    zones = {c.domain: dns.zone_for(c.domain, spec.hosted_zone_id, role) for c in challenges}
    records = [TxtRecord(zones[c.domain], c.record_name, c.record_value) for c in challenges]
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


def _check_sxg(bundle: CertificateBundle, record: Record) -> None:
    """An SXG directory's certificate without what SXG needs is refused, and never delivered."""
    try:
        sxg.check_certificate(bundle)
    except CertificateRejected:
        record.save(pending=None)  # nothing to resume: the next attempt orders again
        raise


def publish_certificate(
    record: Record, bundle: CertificateBundle, session: CaSession, for_sxg: bool = False
) -> tuple[Certificate, CertificateSpec]:
    """ACM in every region (same ARN each), then S3, then the record; the order in flight is cleared last.
    Answers the certificate issued (with the spec it was ordered for) and the spec as the record's write
    found it (changed meanwhile or not: ``follow_spec_changes``).

    A region that fails does not hold back S3, the record or the other regions: it is marked failed
    and retried on its own from the key kept for it (``catch_up_regions``), without a new order. An SXG
    certificate has no ACM region (``acm_regions``): S3 only, with its CAA warnings.
    """
    spec, services, previous = record.cert.spec, record.services, record.cert.state
    warnings = tuple(sxg.caa_warnings(spec, services.dns)) if for_sxg else ()
    regions = import_everywhere(record, bundle, acm_regions(spec, services))
    failed = sorted(r for r in acm_regions(spec, services) if regions[r].status is RegionStatus.FAILED)
    state = CertificateState(
        status=Status.ISSUED,
        serial=bundle.serial,
        not_before=bundle.not_before,
        not_after=bundle.not_after,
        renew_at=default_renew_at(bundle.not_before, bundle.not_after, spec.renew_fraction),
        regions=regions,
        s3_prefix=s3_prefix_for(spec.name),
        account_url=session.account_url,
        updated_at=services.clock(),
        alert_at=default_alert_at(bundle.not_before, bundle.not_after),
        certificate_pem=bundle.certificate_pem,
        issuer_directory_url=session.directory_url,
        warnings=warnings,
    )
    if failed:
        pending = previous.pending  # its key, already encrypted, is what a lagging region is re-imported with
        key = pending.encrypted_key if pending is not None else services.keys.encrypt(spec.name, bundle.private_key_pem)
        state = regions_failed(state, previous.consecutive_failures, failed, bundle, key, services)
    if session.supports_ari:
        state = with_renewal_window(state, session, bundle.certificate, services)
    issued = Certificate(spec, state)
    services.files.put_bundle(spec.name, bundle, bundle_metadata(issued, bundle))
    written = save_issued(spec, state, record)
    record.cert = issued = Certificate(spec, written.state)
    return issued, written.spec
