"""The issue worker: work one queue message (issue, renew, or nothing to do), as an ``Outcome``; ``renew_due``
works every due certificate here instead of through the queue.

What puts messages on the queue (the scheduled sweep, a renewal asked for now) is :mod:`acmevault.app.sweep`,
which imports no issuance.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from enum import StrEnum

from acmevault.app.awaiting import hand_back, is_awaiting
from acmevault.app.issuance import issue_certificate, renew_if_due, renew_on_request
from acmevault.app.services import Services
from acmevault.domain.certificate import RegionStatus
from acmevault.domain.errors import AcmeVaultError, LeaseHeld, LeaseLost, UnavailableError
from acmevault.domain.issue_message import SCHEDULED, IssueMessage
from acmevault.ports.certificates import IssueRequests

log = logging.getLogger(__name__)


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
