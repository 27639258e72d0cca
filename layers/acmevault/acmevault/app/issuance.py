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
dates and ARNs, with the error, a failure count and a retry time beside them. One ACM region
failing holds back nothing else: S3 and the record move on, the region is marked failed and is
re-imported later from the key kept for it (``catch_up``), without a new order. A worker that
dies part-way leaves the order (or the downloaded certificate) on the record, and the next
attempt finishes it instead of ordering again — unless the spec changed meanwhile: then it is
dropped (or, downloaded and still covering the spec, pushed) and the spec is ordered as it is.
Every state write is fenced by the worker's lease: one whose lease ran out writes nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from acme import messages
from cryptography import x509

from acmevault.adapters.acme.session import AcmeSession, Order
from acmevault.app import sxg
from acmevault.app.authorization import Permit
from acmevault.app.awaiting import record_waiting
from acmevault.app.notices import Alert, Notice, alert, tell
from acmevault.app.services import Services
from acmevault.domain import ari
from acmevault.domain.certificate import (
    CatchUp,
    Certificate,
    CertificateSpec,
    CertificateState,
    Challenge,
    PendingOrder,
    RegionState,
    RegionStatus,
    Status,
    default_alert_at,
    default_renew_at,
    retry_delay,
    s3_prefix_for,
)
from acmevault.domain.dns import TxtRecord
from acmevault.domain.errors import (
    AcmeVaultError,
    AuthorizationRequired,
    AwaitingCa,
    AwsError,
    AwsUnavailable,
    CertificateNotFound,
    CertificateRejected,
    ConflictError,
    DirectoryNotFound,
    DnsError,
    LeaseLost,
    OrderMismatch,
    OutOfTime,
    SpecChanged,
    UnavailableError,
)
from acmevault.domain.keys import (
    CertificateBundle,
    build_csr,
    generate_private_key,
    key_type_of,
    load_private_key,
    private_key_pem,
)
from acmevault.ports import Dns

log = logging.getLogger(__name__)

LEASE_SECONDS = 900.0  # longer than one Lambda invocation can run
VALIDATION_RESERVE_SECONDS = 10.0  # budget a CA's dns-01 check needs at least, once answered


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
    if issued and not _serves_everywhere(defined.state, spec, acm_regions(spec, services)):
        services.certificates.mark_due(spec.name, now)
        defined = services.certificates.get(spec.name)
    if existing is not None:
        newly_dropped = set(dropped_regions(defined, services)) - set(dropped_regions(existing, services))
        for region in sorted(newly_dropped):
            _region_dropped(defined, region, services)
    return defined


def acm_regions(spec: CertificateSpec, services: Services) -> tuple[str, ...]:
    """The ACM regions the spec asks for (the stack's default when it names none); none at all for an SXG
    directory's certificates, which go to S3 only (browsers refuse them on TLS)."""
    try:
        for_sxg = services.accounts.require(spec.directory).sxg
    except DirectoryNotFound:
        for_sxg = False  # nothing is issued from a directory that is gone; its regions are as the spec says
    return () if for_sxg else spec.acm_regions or services.default_acm_regions


def dropped_regions(cert: Certificate, services: Services) -> list[str]:
    """Regions the certificate has an ARN in that its spec no longer names: left alone, never renewed."""
    wanted = acm_regions(cert.spec, services)
    return sorted(r for r, state in cert.state.regions.items() if r not in wanted and state.arn is not None)


def serves(state: CertificateState, spec: CertificateSpec) -> bool:
    """Whether the serving certificate is exactly what the spec asks for: its names and key type."""
    if state.certificate_pem is None:
        return False
    return _matches(x509.load_pem_x509_certificate(state.certificate_pem.encode()), spec)


def _serves_everywhere(state: CertificateState, spec: CertificateSpec, regions: tuple[str, ...]) -> bool:
    """Whether the spec is served: its names and key type, in every region it names (a region that
    failed counts: it is retried on its own; one never tried does not)."""
    return serves(state, spec) and all(r in state.regions for r in regions)


def _matches(certificate: x509.Certificate, spec: CertificateSpec) -> bool:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    names = {n.lower() for n in san.value.get_values_for_type(x509.DNSName)}
    return names == set(spec.domains) and key_type_of(certificate) is spec.key_type


def _region_dropped(cert: Certificate, region: str, services: Services) -> None:
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


def is_due(cert: Certificate, now: datetime, regions: tuple[str, ...] = ()) -> bool:
    """Whether the next action is an issuance (or a lagging ACM region's catch-up) for ``regions``."""
    state = cert.state
    if state.serial is None or state.pending is not None or state.status is Status.REVOKED:
        return True  # never issued, an order to finish, or revoked: the next action is an issue
    if state.retry_at is not None:
        return now >= state.retry_at
    if state.lagging(regions):
        return True
    return state.renew_at is None or now >= state.renew_at


def issue_certificate(name: str, services: Services, deadline: float) -> Certificate:
    """Obtain a new certificate for ``name`` now and put it everywhere it is served from.

    Raises LeaseHeld when another worker is on the same certificate.
    """
    with _lease(name, services) as owner:
        return _issue(services.certificates.get(name), services, deadline, owner)


def renew_on_request(
    name: str, services: Services, deadline: float, requested_serial: str | None
) -> Certificate | None:
    """An on-demand renewal asked for while ``requested_serial`` was serving (None: never issued).

    None, and nothing done, when the certificate has moved past that serial: the request was
    fulfilled already (a message delivered again: SQS delivers at least once).
    """
    with _lease(name, services) as owner:
        current = services.certificates.get(name)
        if current.state.serial != requested_serial:
            log.info("already renewed since it was asked for", extra={"certificate": name})
            return None
        return _issue(current, services, deadline, owner)


def renew_if_due(name: str, services: Services, deadline: float) -> Certificate | None:
    """The scheduled path: issue if due; otherwise ask the CA again for its renewal window when that
    is due (ARI). A lagging ACM region is caught up from the serving certificate, without a new order.
    None when nothing was issued or imported."""
    with _lease(name, services) as owner:
        current = services.certificates.get(name)
        now, regions = services.clock(), acm_regions(current.spec, services)
        current = _settle_catch_up(current, regions, Record(current, services, owner))
        if not is_due(current, now, regions):
            refresh_renewal_time(current, services, owner)
            return None
        if _only_regions_lag(current, regions, now):
            return catch_up_regions(Record(current, services, owner))
        return _issue(current, services, deadline, owner)


@contextmanager
def _lease(name: str, services: Services) -> Iterator[str]:
    """One order at a time per certificate: a conditional write with an expiry, released at the end.
    Yields the owner id, which fences every state write of the attempt."""
    owner = uuid.uuid4().hex
    services.certificates.acquire_lease(name, owner, services.clock(), LEASE_SECONDS)
    try:
        yield owner
    finally:
        services.certificates.release_lease(name, owner)


def _issue(current: Certificate, services: Services, deadline: float, owner: str) -> Certificate:
    spec = current.spec
    log.info("issuing certificate", extra={"certificate": spec.name, "domains": len(spec.domains)})
    record = Record(current, services, owner)
    try:
        # A policy narrowed since the spec was defined stops the next issuance, not only the next PUT.
        services.gate.check_names(None, "issue", spec.name, spec.directory, spec.domains)
        session = services.accounts.session(spec.directory)
        for_sxg = services.accounts.require(spec.directory).sxg
        if for_sxg:
            sxg.check_spec(spec)  # defined before its directory became SXG: refused before ordering
        bundle, exact = obtain_certificate(session, record, deadline)
        if for_sxg:
            _check_sxg(bundle, record)
        issued = publish_certificate(record, bundle, session, for_sxg)
    except LeaseLost:
        raise  # another worker owns the certificate now: its state is not ours to mark failed
    except AwaitingCa as waiting:
        return record_waiting(record, waiting)  # not a failure: the worker comes back
    except AcmeVaultError as error:
        _record_failure(record, error)
        raise
    renewed = current.state.serial is not None
    notice = Notice.CERTIFICATE_RENEWED if renewed else Notice.CERTIFICATE_ISSUED
    tell(services, spec.name, notice, _event_detail(issued))
    services.metrics.certificate_issued(spec.name, _days_left(issued.state, services.clock()))
    log.info("certificate issued", extra={"certificate": spec.name, "serial": issued.state.serial})
    _tell_failed_regions(issued, services)
    if not exact:
        # A certificate downloaded for an earlier spec still covered this one and now serves: order the exact one.
        log.info("ordering again for the spec as it is now", extra={"certificate": spec.name})
        return _issue(issued, services, deadline, owner)
    return _follow_spec_changes(issued, record)


def _follow_spec_changes(issued: Certificate, record: Record) -> Certificate:
    """The spec may have changed while this attempt ran: if the new one is not served, it is due now."""
    latest = record.services.certificates.get(issued.spec.name).spec
    if _serves_everywhere(issued.state, latest, acm_regions(latest, record.services)):
        return issued
    log.info("the spec changed during the issuance; due again", extra={"certificate": latest.name})
    record.save(renew_at=record.services.clock(), retry_at=None)
    return record.cert


def _settle_catch_up(current: Certificate, regions: tuple[str, ...], record: Record) -> Certificate:
    """The lagging regions were dropped from the spec meanwhile: nothing is left to catch up, so the
    kept key goes and the retry with it."""
    state = current.state
    if state.catch_up is None or state.pending is not None or state.lagging(regions):
        return current
    record.save(catch_up=None, retry_at=None, consecutive_failures=0, last_error=None)
    return record.cert


def _only_regions_lag(current: Certificate, regions: tuple[str, ...], now: datetime) -> bool:
    """Whether the serving certificate is right and only ACM regions lag: a re-import, not a new order."""
    state = current.state
    renewal_due = state.renew_at is None or now >= state.renew_at
    return (
        state.catch_up is not None
        and state.pending is None
        and state.status is not Status.REVOKED
        and bool(state.lagging(regions))
        and not renewal_due
        and serves(state, current.spec)
    )


@dataclass
class Record:
    """The certificate's record as this attempt writes it: each step is saved before the next begins.
    Every write is fenced by the lease ``owner``: LeaseLost once another worker has taken it over."""

    cert: Certificate
    services: Services
    owner: str | None = None

    def save(self, **changes: Any) -> None:
        self.put(replace(self.cert.state, **changes))

    def put(self, state: CertificateState) -> None:
        # Kept before it is written: if the write fails, the failure record is a second chance to keep it.
        self.cert = replace(self.cert, state=state)
        self.services.certificates.save_state(self.cert.spec.name, state, self.owner)


def obtain_certificate(session: AcmeSession, record: Record, deadline: float) -> tuple[CertificateBundle, bool]:
    """The certificate to serve, and whether it is exactly the spec's (False: a certificate downloaded for
    an earlier spec that still covers this one; it is served, then the exact one is ordered)."""
    spec, pending, services = record.cert.spec, record.cert.state.pending, record.services
    if pending is not None and pending.account_url != session.account_url:
        pending = None  # placed through an account this directory no longer uses: order again
    if pending is not None and pending.fullchain is not None:
        downloaded = _downloaded(pending, spec, record)
        if downloaded is not None:
            return downloaded
        pending = None
    if pending is not None and not pending.placed_for(spec):
        _drop_pending(record, "the spec changed since the order was placed")
        pending = None
    awaited = record.cert.state.awaiting_since is not None
    resumed = _resume(session, spec, pending, record, awaited) if pending is not None else None
    key_pem, order = resumed or _place_order(session, record)
    _check_order(order, spec, record)
    to_prove = [a for a in order.pending() if a.body.status == messages.STATUS_PENDING]
    if to_prove and spec.challenge is Challenge.NONE:
        raise AuthorizationRequired(_domain(to_prove[0]))
    if to_prove:
        prove_with_dns01(session, order, spec, services.dns, deadline)
    fullchain = session.finalize(order, deadline)
    if record.cert.state.pending is not None:
        record.save(pending=replace(record.cert.state.pending, fullchain=fullchain))
    try:
        return _bundle(fullchain, key_pem, spec), True
    except CertificateRejected:
        _drop_pending(record, "the CA's certificate failed the checks")  # never pushed; the next attempt orders again
        raise


def _downloaded(pending: PendingOrder, spec: CertificateSpec, record: Record) -> tuple[CertificateBundle, bool] | None:
    """A certificate a previous attempt downloaded and did not push: pushed if it still covers the spec's
    names with its key type; otherwise dropped (None), never an error loop."""
    assert pending.fullchain is not None
    key_pem = record.services.keys.decrypt(spec.name, pending.encrypted_key)
    try:
        bundle = CertificateBundle.from_fullchain(pending.fullchain, key_pem, ())
    except CertificateRejected:
        _drop_pending(record, "the downloaded certificate failed the checks")
        return None
    if bundle.not_after <= record.services.clock():
        _drop_pending(record, "the downloaded certificate expired before it was pushed")  # ACM refuses it
        return None
    covers = set(spec.domains) <= {n.lower() for n in bundle.dns_names}
    if not covers or key_type_of(bundle.certificate) is not spec.key_type:
        _drop_pending(record, "the downloaded certificate does not cover the spec as it is now")
        return None
    log.info("pushing a certificate downloaded earlier", extra={"certificate": spec.name})
    return bundle, pending.placed_for(spec) and _matches(bundle.certificate, spec)


def _drop_pending(record: Record, why: str) -> None:
    """Forget the order in flight (it stays at the CA until it expires) so the next step orders afresh."""
    pending = record.cert.state.pending
    if pending is None:
        return
    log.warning("order in flight dropped", extra={"certificate": record.cert.spec.name, "why": why})
    record.save(pending=None)
    record_history_entry(record, {"action": "pending order dropped", "order_url": pending.order_url, "why": why})


def record_history_entry(record: Record, entry: dict[str, Any]) -> None:
    """An audit note for the record's certificate; the action stands even if the note cannot be written."""
    try:
        record.services.certificates.add_history(
            record.cert.spec.name, {**entry, "at": record.services.clock().isoformat()}
        )
    except AcmeVaultError:
        log.exception("history not recorded", extra={"certificate": record.cert.spec.name})


def _check_order(order: Order, spec: CertificateSpec, record: Record) -> None:
    """The CA's order and authorizations must be for exactly the spec's names before any DNS record is
    written: an order for other names is dropped and refused, never proved."""
    wanted = set(spec.domains)
    ordered = {str(i.value).lower() for i in order.resource.body.identifiers}
    authorized = {_domain(a).lower() for a in order.authorizations}
    if ordered == wanted and authorized == wanted:
        return
    _drop_pending(record, "the CA's order is for other names than the spec")
    raise OrderMismatch(order.url, sorted(ordered | authorized), sorted(wanted))


def _place_order(session: AcmeSession, record: Record) -> tuple[str, Order]:
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
    session: AcmeSession, spec: CertificateSpec, pending: PendingOrder, record: Record, awaited: bool = False
) -> tuple[str, Order] | None:
    """The order a previous attempt placed, if the CA can still finish it. One the CA held for its
    approval and then marked invalid is kept: finalizing it reports the CA's reason as the failure,
    where ordering again at once would only file another request for the approver to refuse."""
    key_pem = record.services.keys.decrypt(spec.name, pending.encrypted_key)
    domains = pending.domains if pending.domains is not None else spec.domains
    order = session.fetch_order(pending.order_url, build_csr(load_private_key(key_pem), domains))
    if order.resource.body.status == messages.STATUS_INVALID and not awaited:
        log.info("the order in flight became invalid; ordering again", extra={"certificate": spec.name})
        return None
    ordered = {str(i.value).lower() for i in order.resource.body.identifiers}
    if ordered != set(spec.domains):
        _drop_pending(record, "the order in flight is for other names than the spec")
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
    records = [
        TxtRecord(dns.zone_for(c.domain, spec.hosted_zone_id, role), c.record_name, c.record_value) for c in challenges
    ]
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
    record: Record, bundle: CertificateBundle, session: AcmeSession, for_sxg: bool = False
) -> Certificate:
    """ACM in every region (same ARN each), then S3, then the record; the order in flight is cleared last.

    A region that fails does not hold back S3, the record or the other regions: it is marked failed
    and retried on its own from the key kept for it (``catch_up``), without a new order. An SXG
    certificate has no ACM region (``acm_regions``): S3 only, with its CAA warnings.
    """
    spec, services, previous = record.cert.spec, record.services, record.cert.state
    warnings = tuple(sxg.caa_warnings(spec, services.dns)) if for_sxg else ()
    regions = _import_everywhere(record, bundle, acm_regions(spec, services))
    failed = sorted(r for r in acm_regions(spec, services) if regions[r].status is RegionStatus.FAILED)
    now = services.clock()
    state = CertificateState(
        status=Status.ISSUED,
        serial=bundle.serial,
        not_before=bundle.not_before,
        not_after=bundle.not_after,
        renew_at=default_renew_at(bundle.not_before, bundle.not_after, spec.renew_fraction),
        regions=regions,
        s3_prefix=s3_prefix_for(spec.name),
        account_url=session.account_url,
        updated_at=now,
        alert_at=default_alert_at(bundle.not_before, bundle.not_after),
        certificate_pem=bundle.certificate_pem,
        issuer_directory_url=session.directory_url,
        warnings=warnings,
    )
    if failed:
        pending = previous.pending  # its key, already encrypted, is what a lagging region is re-imported with
        key = pending.encrypted_key if pending is not None else services.keys.encrypt(spec.name, bundle.private_key_pem)
        state = _regions_failed(state, previous.consecutive_failures, failed, bundle, key, services)
    if session.supports_ari:
        state = _with_ari(state, session, bundle.certificate, services)
    issued = Certificate(spec, state)
    services.files.put_bundle(spec.name, bundle, _metadata(issued, bundle))
    # Not through record: should this write fail, the failure record keeps the downloaded certificate,
    # and the next attempt pushes it again rather than ordering another.
    state = _save_issued(spec, state, record)
    record.cert = issued = Certificate(spec, state)
    return issued


SPEC_RACE_ATTEMPTS = 5


def _save_issued(spec: CertificateSpec, state: CertificateState, record: Record) -> CertificateState:
    """Write the issued state for the spec it was issued for. A spec changed meanwhile (a name added
    while the order ran) is noticed here, in the same conditional write, not after it: the certificate
    serves (ACM and S3 have it) and, unless it satisfies the new spec, is due at once — a worker killed
    right after this write leaves nothing wedged until the old certificate's renewal time."""
    services, digest = record.services, spec.digest
    for _ in range(SPEC_RACE_ATTEMPTS):
        try:
            services.certificates.save_state(spec.name, state, record.owner, digest)
            return state
        except SpecChanged:
            latest = services.certificates.get(spec.name).spec
            if not _serves_everywhere(state, latest, acm_regions(latest, services)):
                state = replace(state, renew_at=services.clock(), retry_at=None)
            digest = latest.digest
    # The spec keeps changing under us: written as due now, so the sweep settles it next.
    state = replace(state, renew_at=services.clock(), retry_at=None)
    services.certificates.save_state(spec.name, state, record.owner)
    return state


def catch_up_regions(record: Record) -> Certificate:
    """Import the serving certificate into the ACM regions that lag behind it, from the key kept for
    them: no ACME order. S3 and the record's serial are already right."""
    spec, services, state = record.cert.spec, record.services, record.cert.state
    assert state.catch_up is not None
    key_pem = services.keys.decrypt(spec.name, state.catch_up.encrypted_key)
    bundle = CertificateBundle.from_fullchain(state.catch_up.fullchain, key_pem, spec.domains)
    lagging = state.lagging(acm_regions(spec, services))
    log.info("catching up ACM regions", extra={"certificate": spec.name, "regions": lagging})
    regions = _import_everywhere(record, bundle, lagging)
    failed = sorted(r for r in lagging if regions[r].status is RegionStatus.FAILED)
    caught_up = replace(record.cert.state, regions=regions, updated_at=services.clock())
    if failed:
        caught_up = _regions_failed(
            caught_up, state.consecutive_failures, failed, bundle, state.catch_up.encrypted_key, services
        )
    else:
        caught_up = replace(caught_up, catch_up=None, last_error=None, consecutive_failures=0, retry_at=None)
    record.put(caught_up)
    _tell_failed_regions(record.cert, services)
    return record.cert


def _import_everywhere(record: Record, bundle: CertificateBundle, regions: Sequence[str]) -> dict[str, RegionState]:
    """Import into each region on its own; a failure there is kept on that region, never raised."""
    spec, services = record.cert.spec, record.services
    states = dict(record.cert.state.regions)
    revoked = record.cert.state.status is Status.REVOKED
    for region in regions:
        before = states.get(region, RegionState())
        try:
            arn = services.acm.import_certificate(region, spec.name, bundle, before.arn)
            if revoked:
                services.acm.clear_revoked(region, arn)  # the ARN serves a valid certificate again
        except (AwsError, UnavailableError) as error:
            log.warning("ACM import failed", extra={"certificate": spec.name, "region": region, "error": error.code})
            states[region] = replace(before, status=RegionStatus.FAILED, error=f"{error.code}: {error.message}")
            continue
        states[region] = RegionState(arn=arn, serial=bundle.serial, status=RegionStatus.SERVED)
        if before.arn != arn:
            record.save(regions=dict(states))  # a new ARN is kept at once: a retry re-imports into it
    return states


def _regions_failed(
    state: CertificateState,
    failures_before: int,
    failed: list[str],
    bundle: CertificateBundle,
    encrypted_key: bytes | None,
    services: Services,
) -> CertificateState:
    """Issued, but ACM regions lag: keep what they are re-imported from, and come back with backoff."""
    failures = failures_before + 1
    errors = "; ".join(f"ACM {r}: {state.regions[r].error}" for r in failed)
    catch_up = CatchUp(bundle.fullchain_pem, encrypted_key) if encrypted_key is not None else None
    return replace(
        state,
        catch_up=catch_up,
        last_error=errors,
        consecutive_failures=failures,
        retry_at=services.clock() + retry_delay(failures, None, services.rng.random()),
    )


def _tell_failed_regions(cert: Certificate, services: Services) -> None:
    failed = {r: s for r, s in cert.state.regions.items() if s.status is RegionStatus.FAILED}
    if not failed:
        return
    name = cert.spec.name
    services.metrics.renewal_failed(name)
    for region, state in sorted(failed.items()):
        detail = {**_event_detail(cert), "region": region, "arn": state.arn, "error": state.error}
        tell(services, name, Notice.CERTIFICATE_REGION_FAILED, detail)
    alert(
        services,
        name,
        Alert(
            f"acmevault: {name} not imported into ACM in {', '.join(sorted(failed))}",
            f"{name} ({', '.join(cert.spec.domains)}) serial {cert.state.serial} is in S3 and the other regions; "
            f"{cert.state.last_error}. The region is retried on its own (no new order) after "
            f"{cert.state.retry_at:%Y-%m-%d %H:%M} UTC; it keeps serving its previous certificate until then.",
        ),
    )


def refresh_renewal_time(current: Certificate, services: Services, owner: str | None = None) -> Certificate:
    """Not due: ask the CA again for its renewal window if that time has come (ARI), and record it."""
    state, now = current.state, services.clock()
    if state.ari_check_at is None or now < state.ari_check_at or state.certificate_pem is None:
        return current
    session = services.accounts.session(current.spec.directory)
    certificate = x509.load_pem_x509_certificate(state.certificate_pem.encode())
    updated = Certificate(current.spec, _with_ari(state, session, certificate, services))
    services.certificates.save_state(current.spec.name, updated.state, owner)
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


def _record_failure(record: Record, error: AcmeVaultError) -> None:
    current, services = record.cert, record.services
    state, now = current.state, services.clock()
    failures = state.consecutive_failures + 1
    retry_after = error.retry_after if isinstance(error, UnavailableError) else None
    waiting = state.status is Status.AWAITING_CA
    failed = replace(
        state,
        status=Status.FAILED if state.serial is None else (Status.ISSUED if waiting else state.status),
        last_error=f"{error.code}: {error.message}",
        consecutive_failures=failures,
        retry_at=now + retry_delay(failures, retry_after, services.rng.random()),
        updated_at=now,
    )
    if not isinstance(error, UnavailableError):  # the CA refused the order it kept waiting: the wait is over
        failed = replace(failed, awaiting_since=None, awaiting_alerted_at=None)
    try:
        services.certificates.save_state(current.spec.name, failed, record.owner)
    except LeaseLost:
        log.warning(
            "lease lost; the failure is left to the worker holding it", extra={"certificate": current.spec.name}
        )
        return
    except AcmeVaultError:
        log.exception("could not record the failure", extra={"certificate": current.spec.name})
    log.warning("issuance failed", extra={"certificate": current.spec.name, "error": error.code})
    services.metrics.renewal_failed(current.spec.name)
    detail = {**_event_detail(Certificate(current.spec, failed)), "error": error.code, "message": error.message}
    tell(
        services,
        current.spec.name,
        Notice.CERTIFICATE_RENEWAL_FAILED,
        detail,
        Alert(
            f"acmevault: renewal of {current.spec.name} failed",
            f"{current.spec.name} ({', '.join(current.spec.domains)}): {error.message}\n"
            f"Failures in a row: {failures}. Next attempt after {failed.retry_at:%Y-%m-%d %H:%M} UTC. "
            "The previous certificate, if any, is still serving.",
        ),
    )


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
        "regions": {r: v.to_dict() for r, v in cert.state.regions.items()},
        "issuer_directory_url": cert.state.issuer_directory_url,
    }


def _event_detail(cert: Certificate) -> dict[str, Any]:
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
