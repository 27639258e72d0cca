"""The scheduled job: find what is due and queue it, and tell people what is about to expire; and a renewal asked
for now, queued the same way. The issue worker (:mod:`acmevault.app.renewal`) works the messages.

Apart from the worker so that what only queues (RenewFunction, the API's renew route) loads no issuance and no
cryptography (issue 14: about 25 ms of a cold start). The sweep reads the table's due-date and alert indexes
only, so its cost grows with the number of certificates due, not with the inventory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from acmevault.app.history import record_history
from acmevault.app.notices import Alert, Notice, tell
from acmevault.app.services import Services
from acmevault.domain.certificate import Certificate
from acmevault.domain.issue_message import SCHEDULED
from acmevault.ports.certificates import IssueRequests

log = logging.getLogger(__name__)

ALERT_AGAIN_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Sweep:
    """What one sweep did: how many certificates it queued, and which ones are close to expiry."""

    queued: int
    expiring: list[str]


def sweep(now: datetime, services: Services, queue: IssueRequests) -> Sweep:
    """Queue one message per due certificate, and alert on those close to expiry and not renewed."""
    queued = queue.send(services.certificates.due(now), reason=SCHEDULED)
    expiring = [name for name in services.certificates.expiring(now) if _alert_expiring(name, now, services)]
    services.metrics.sweep_done(queued, len(expiring))
    log.info("sweep done", extra={"queued": queued, "expiring": len(expiring)})
    return Sweep(queued, expiring)


def _alert_expiring(name: str, now: datetime, services: Services) -> bool:
    cert = services.certificates.get(name)
    state = cert.state
    if state.not_after is None:
        return False
    days = (state.not_after - now).total_seconds() / 86400
    detail = {
        "certificate": name,
        "domains": list(cert.spec.domains),
        "serial": state.serial,
        "not_after": state.not_after.isoformat(),
        "days_to_expiry": round(days, 2),
        "last_error": state.last_error,
        "awaiting_since": state.awaiting_since.isoformat() if state.awaiting_since else None,
    }
    services.metrics.certificate_expiring(name, days)
    told = tell(
        services,
        name,
        Notice.CERTIFICATE_EXPIRING,
        detail,
        Alert(
            f"acmevault: {name} expires in {days:.1f} days",
            f"{name} ({', '.join(cert.spec.domains)}) expires {state.not_after:%Y-%m-%d %H:%M} UTC and has not "
            f"been renewed. Last error: {state.last_error or 'none'}."
            + (
                f" The CA has kept its new order processing since {state.awaiting_since:%Y-%m-%d %H:%M} UTC"
                " (approval?)."
                if state.awaiting_since
                else ""
            ),
        ),
    )
    if told:  # told once a day; a notice that did not go out is tried again at the next sweep
        services.certificates.postpone_alert(name, now + ALERT_AGAIN_AFTER)
    return True


def queue_renewal(name: str, services: Services, queue: IssueRequests) -> Certificate:
    """Renew ``name`` now, due or not: one message to the issue worker (which takes the lease), as the
    sweep sends, with a reason that makes the worker issue instead of checking whether it is due."""
    current = services.certificates.get(name)  # CertificateNotFound names it
    queue.send([name], reason="on-demand", serials={name: current.state.serial})
    record_history(name, {"action": "renewal requested", "serial": current.state.serial}, services)
    log.info("renewal queued", extra={"certificate": name})
    return current
