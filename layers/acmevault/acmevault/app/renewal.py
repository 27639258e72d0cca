"""The scheduled job: find what is due and queue it; tell people what is about to expire; work a message.

The sweep reads the table's due-date and alert indexes only, so its cost grows with
the number of certificates due, not with the inventory.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from acmevault.app.awaiting import hand_back, is_awaiting
from acmevault.app.history import record_history
from acmevault.app.issuance import issue_certificate, renew_if_due, renew_on_request
from acmevault.app.notices import Alert, Notice, tell
from acmevault.app.services import Services
from acmevault.domain.certificate import Certificate, RegionStatus
from acmevault.domain.errors import AcmeVaultError, LeaseHeld, LeaseLost, UnavailableError
from acmevault.domain.issue_message import SCHEDULED, IssueMessage
from acmevault.ports.certificates import IssueRequests

log = logging.getLogger(__name__)

ALERT_AGAIN_AFTER = timedelta(days=1)


class Outcome(StrEnum):
    """What the issue worker did with one message (logged as ``outcome``; counted by ``renew --due``)."""

    ISSUED = "issued"
    # served from S3 and the other regions; the failing region is retried on its own, without a new order
    ISSUED_REGION_FAILING = "issued (ACM region failing)"
    NOT_DUE = "not due"  # scheduled, and not due (the renewal window was checked again if its time had come)
    AWAITING_CA = "awaiting_ca"  # the CA holds the order (an approval): handed back, delayed
    FAILED = "failed"  # recorded on the certificate and told to people; the message is done
    BUSY = "busy"  # scheduled, and another worker holds the certificate
    ALREADY_DONE = "already done"  # on demand, and the certificate moved past the serial it was asked for


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


def work(message: IssueMessage, services: Services, deadline: float, queue: IssueRequests | None = None) -> Outcome:
    """What the issue worker does with one message; returns the outcome, raises only to be retried.

    A transient failure (CA or AWS unavailable) is raised, so the message comes back after the
    queue's visibility timeout and goes to the dead-letter queue after too many tries. A refusal
    (bad spec, CA said no) is recorded on the certificate and told to people; retrying the message
    would not help, so it is not raised. Another worker on the same certificate: a scheduled message
    has nothing to do ("busy"); an on-demand one is raised, so it comes back once that worker is done.
    An on-demand message for a certificate that has moved past its ``requested_serial`` was
    fulfilled already (SQS delivers at least once): "already done".
    An order the CA is still processing (awaiting its approval) is not a failure: the message is
    done, and a new one, delayed until the next check, goes to ``queue`` (without one: the sweep).
    """
    try:
        if message.scheduled:
            issued = renew_if_due(message.certificate, services, deadline)
        elif message.knows_serial:
            issued = renew_on_request(message.certificate, services, deadline, message.requested_serial)
            if issued is None:
                return Outcome.ALREADY_DONE
        else:
            issued = issue_certificate(message.certificate, services, deadline)
    except (LeaseHeld, LeaseLost):
        if message.scheduled:
            return Outcome.BUSY
        raise
    except UnavailableError:
        raise
    except AcmeVaultError as error:
        log.warning("not issued", extra={"certificate": message.certificate, "error": error.code})
        return Outcome.FAILED
    if issued is None:
        return Outcome.NOT_DUE
    if is_awaiting(issued.state):
        if queue is not None:
            hand_back(message, issued, services.clock(), queue)
        return Outcome.AWAITING_CA
    lagging = any(r.status is RegionStatus.FAILED for r in issued.state.regions.values())
    return Outcome.ISSUED_REGION_FAILING if lagging else Outcome.ISSUED


def renew_due(
    services: Services,
    now: datetime,
    timeout: float,
    workers: int = 8,
    progress: Callable[[str, Outcome], None] | None = None,
) -> Counter[Outcome]:
    """The sweep run here instead of in Lambda: due certificates issued by ``workers`` threads."""
    names = list(services.certificates.due(now))

    def one(name: str) -> Outcome:
        try:
            outcome = work(IssueMessage(name, SCHEDULED), services, time.monotonic() + timeout)
        except UnavailableError:
            outcome = Outcome.FAILED
        if progress:
            progress(name, outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return Counter(pool.map(one, names))


def queue_renewal(name: str, services: Services, queue: IssueRequests) -> Certificate:
    """Renew ``name`` now, due or not: one message to the issue worker (which takes the lease), as the
    sweep sends, with a reason that makes the worker issue instead of checking whether it is due."""
    current = services.certificates.get(name)  # CertificateNotFound names it
    queue.send([name], reason="on-demand", serials={name: current.state.serial})
    record_history(name, {"action": "renewal requested", "serial": current.state.serial}, services)
    log.info("renewal queued", extra={"certificate": name})
    return current
