"""Operator verbs that change a certificate's record on purpose: discard its order in flight
(``cert reset``), stop tracking an ACM region the spec dropped (``cert forget-region``).

Both take the certificate's lease, so neither races an issue worker; LeaseHeld says until when
another worker holds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from acmevault.app.history import record_history
from acmevault.app.record import lease
from acmevault.app.regions import acm_regions
from acmevault.app.services import Services
from acmevault.domain.certificate import Certificate, PendingOrder
from acmevault.domain.errors import ConflictError

log = logging.getLogger(__name__)

LEASE_SECONDS = 120.0  # a few table writes (and one ACM delete): a crashed one frees the certificate soon


@dataclass(frozen=True)
class Reset:
    """What ``reset_certificate`` did: the certificate as it is now, and the order it discarded."""

    certificate: Certificate
    discarded: PendingOrder | None  # None: there was no order in flight


def reset_certificate(name: str, services: Services) -> Reset:
    """Discard the order in flight of ``name`` (a downloaded, unpushed certificate with it): the next
    attempt places a new order for the spec as it is. The serving certificate is not touched."""
    with lease(name, services, LEASE_SECONDS) as held:
        current, owner = held.cert, held.owner
        pending = current.state.pending
        if pending is None:
            return Reset(current, None)
        state = replace(current.state, pending=None, retry_at=None, updated_at=services.clock())
        services.certificates.save_state(name, state, owner)
    log.info("order in flight discarded", extra={"certificate": name, "order": pending.order_url})
    entry = {"action": "pending order discarded", "order_url": pending.order_url}
    record_history(name, {**entry, "downloaded": pending.fullchain is not None}, services)
    return Reset(Certificate(current.spec, state), pending)


def forget_region(name: str, region: str, services: Services, delete: bool = False) -> Certificate:
    """Stop tracking an ACM region the spec no longer names; with ``delete``, delete its ACM certificate
    too (ACM refuses while a load balancer or distribution still uses it: nothing is changed then)."""
    with lease(name, services, LEASE_SECONDS) as held:
        current, owner = held.cert, held.owner
        if region in acm_regions(current.spec, services):
            raise ConflictError(
                f"certificate {name!r}: {region} is still in its spec; remove it from acm_regions first"
            )
        tracked = current.state.regions.get(region)
        if tracked is None:
            raise ConflictError(f"certificate {name!r} has no ACM certificate recorded in {region}")
        if delete and tracked.arn is not None:
            services.acm.delete_certificate(region, tracked.arn)
        regions = {r: s for r, s in current.state.regions.items() if r != region}
        state = replace(current.state, regions=regions, updated_at=services.clock())
        services.certificates.save_state(name, state, owner)
    action = "ACM region deleted" if delete else "ACM region forgotten"
    record_history(name, {"action": action, "region": region, "arn": tracked.arn}, services)
    return Certificate(current.spec, state)
