"""The order in flight on the record, and the spec changing under it.

A worker that dies part-way leaves its order (or the certificate it downloaded) on the record
(``PendingOrder``), and the next attempt finishes it instead of ordering again — unless the spec
changed meanwhile: then the order is dropped (it stays at the CA until it expires) or, when the
certificate was downloaded and still covers the spec, that certificate is pushed first. The issued
state is written only for the spec it was issued for; a spec changed meanwhile leaves the
certificate due at once, never wedged until the old certificate's renewal time.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from acmevault.app.history import record_history
from acmevault.app.record import Record
from acmevault.app.regions import acm_regions, serves_everywhere
from acmevault.domain.certificate import Certificate, CertificateSpec, CertificateState, PendingOrder
from acmevault.domain.coverage import covers, matches
from acmevault.domain.errors import CertificateRejected, SpecChanged
from acmevault.domain.keys import CertificateBundle

log = logging.getLogger(__name__)

SPEC_RACE_ATTEMPTS = 5


def downloaded(pending: PendingOrder, spec: CertificateSpec, record: Record) -> tuple[CertificateBundle, bool] | None:
    """A certificate a previous attempt downloaded and did not push, and whether it is exactly the spec's:
    pushed if it still covers the spec's names with its key type; otherwise dropped (None), never an
    error loop."""
    assert pending.fullchain is not None
    key_pem = record.services.keys.decrypt(spec.name, pending.encrypted_key)
    try:
        bundle = CertificateBundle.from_fullchain(pending.fullchain, key_pem, ())
    except CertificateRejected:
        drop_pending(record, "the downloaded certificate failed the checks")
        return None
    if bundle.not_after <= record.services.clock():
        drop_pending(record, "the downloaded certificate expired before it was pushed")  # ACM refuses it
        return None
    if not covers(bundle, spec):
        drop_pending(record, "the downloaded certificate does not cover the spec as it is now")
        return None
    log.info("pushing a certificate downloaded earlier", extra={"certificate": spec.name})
    return bundle, pending.placed_for(spec) and matches(bundle.certificate, spec)


def drop_pending(record: Record, why: str) -> None:
    """Forget the order in flight (it stays at the CA until it expires) so the next step orders afresh."""
    pending = record.cert.state.pending
    if pending is None:
        return
    log.warning("order in flight dropped", extra={"certificate": record.cert.spec.name, "why": why})
    record.save(pending=None)
    entry = {"action": "pending order dropped", "order_url": pending.order_url, "why": why}
    record_history(record.cert.spec.name, entry, record.services)


def save_issued(spec: CertificateSpec, state: CertificateState, record: Record) -> Certificate:
    """Write the issued state for the spec it was issued for, and answer the state written with the spec as
    that write found it (the write answers the item: no read after it). A spec changed meanwhile (a name added
    while the order ran) is noticed here, in the same conditional write, not after it: the certificate
    serves (ACM and S3 have it) and, unless it satisfies the new spec, is due at once — a worker killed
    right after this write leaves nothing wedged until the old certificate's renewal time. A spec changed
    after this write is the definer's to make due (``define_certificate`` sees this state).

    Not through ``record``: should this write fail, the failure record keeps the downloaded certificate,
    and the next attempt pushes it again rather than ordering another."""
    services, digest = record.services, spec.digest
    for _ in range(SPEC_RACE_ATTEMPTS):
        try:
            stored = services.certificates.save_state_and_get(spec.name, state, record.owner, digest)
            return Certificate(stored.spec, state)
        except SpecChanged:
            latest = services.certificates.get(spec.name).spec
            if not serves_everywhere(state, latest, acm_regions(latest, services)):
                state = replace(state, renew_at=services.clock(), retry_at=None)
            digest = latest.digest
    # The spec keeps changing under us: written as due now, so the sweep settles it next.
    state = replace(state, renew_at=services.clock(), retry_at=None)
    stored = services.certificates.save_state_and_get(spec.name, state, record.owner)
    return Certificate(stored.spec, state)


def follow_spec_changes(issued: Certificate, latest: CertificateSpec, record: Record) -> Certificate:
    """The spec may have changed while this attempt ran (``latest``: the spec as the issued state's write found
    it, which that write answered): if the new one is not served, it is due now."""
    if serves_everywhere(issued.state, latest, acm_regions(latest, record.services)):
        return issued
    log.info("the spec changed during the issuance; due again", extra={"certificate": latest.name})
    record.save(renew_at=record.services.clock(), retry_at=None)
    return record.cert
