"""Orders the CA keeps "processing" (DigiCert approval, an OV/EV check): a state, not a failure.

    the CA says "processing" past the worker's patience → record: awaiting_ca, since when, next check
      → no failure count, no "Certificate Renewal Failed", no failed SQS message (so no dead-letter queue)
      → waiting longer than ApprovalAlertHours: one "Certificate Awaiting Approval" event and alert a day
      → the issue worker comes back at the next check (a delayed SQS message) and resumes the same order

When to look again: the CA's Retry-After, at least 1 second and at most 15 minutes (SQS's longest
DelaySeconds). Without a Retry-After: a quarter of the time waited so far, from 30 seconds up to the
same 15 minutes. The cap is deliberate: one order read every 15 minutes costs the CA nothing, and an
approval given at the CA is picked up within 15 minutes, where the due index alone would wait for the
next scheduled sweep (12 hours by default). The record's retry_at (the due index) holds the same time,
so a follow-up message that is lost is made good by the sweep.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any

from acmevault.app.history import record_history
from acmevault.app.notices import Alert, Notice, tell
from acmevault.app.record import Record
from acmevault.app.services import Services
from acmevault.domain.certificate import Certificate, CertificateState, Status
from acmevault.domain.errors import AwaitingCa
from acmevault.domain.issue_message import IssueMessage
from acmevault.ports.certificates import IssueRequests

log = logging.getLogger(__name__)

MAX_RECHECK_SECONDS = 900  # SQS DelaySeconds' maximum: the follow-up is one delayed message
MIN_RECHECK_SECONDS = 1
NO_HINT_RECHECK_SECONDS = (30, 900)  # without a Retry-After: a quarter of the wait so far, within these
ALERT_AGAIN_AFTER = timedelta(days=1)


def recheck_delay(retry_after: float | None, waited: timedelta) -> float:
    """Seconds until the order is looked at again (see the module docstring)."""
    if retry_after is None:
        low, high = NO_HINT_RECHECK_SECONDS
        return float(min(max(waited.total_seconds() / 4, low), high))
    return float(min(max(retry_after, MIN_RECHECK_SECONDS), MAX_RECHECK_SECONDS))


def record_waiting(record: Record, waiting: AwaitingCa) -> Certificate:
    """Note on the record that the CA is still working on the order; tell people once a day after the
    alert threshold. Returns the certificate as recorded (status awaiting_ca unless it is revoked)."""
    state, services = record.cert.state, record.services
    now = services.clock()
    since = state.awaiting_since or now
    next_check = now + timedelta(seconds=recheck_delay(waiting.retry_after, now - since))
    alert = now - since >= services.approval_alert_after and (
        state.awaiting_alerted_at is None or now - state.awaiting_alerted_at >= ALERT_AGAIN_AFTER
    )
    record.save(
        # a revoked certificate stays "revoked" (what it serves is revoked); awaiting_since says the rest
        status=state.status if state.status is Status.REVOKED else Status.AWAITING_CA,
        awaiting_since=since,
        awaiting_alerted_at=now if alert else state.awaiting_alerted_at,
        retry_at=next_check,
        consecutive_failures=0,
        last_error=None,
        updated_at=now,
    )
    log.info(
        "awaiting the CA",
        extra={"certificate": record.cert.spec.name, "order": waiting.order_url, "next_check": next_check.isoformat()},
    )
    if state.awaiting_since is None or alert:
        action = "awaiting the CA" if state.awaiting_since is None else "still awaiting the CA (people told)"
        record_history(record.cert.spec.name, {"action": action, "order": waiting.order_url}, services)
    if alert:
        _tell(record.cert, waiting.order_url, now, services)
    return record.cert


def is_awaiting(state: CertificateState) -> bool:
    """Whether the CA is holding the certificate's order (awaiting_since is set)."""
    return state.awaiting_since is not None


def hand_back(message: IssueMessage, cert: Certificate, now: datetime, queue: IssueRequests) -> int:
    """Send the message again, delayed until the certificate's next check; return the delay in seconds."""
    next_check = cert.state.retry_at or now
    delay = min(max(math.ceil((next_check - now).total_seconds()), 0), MAX_RECHECK_SECONDS)
    queue.send_later(message, delay)
    return delay


def waiting_view(state: CertificateState, now: datetime) -> dict[str, Any]:
    """What `cert show` and GET /certificates/{name} say about a wait (None values when not waiting)."""
    since = state.awaiting_since
    waited = max(0, int((now - since).total_seconds())) if since else None
    return {
        "awaiting_since": since.isoformat() if since else None,
        "waiting_for": format_wait(waited) if waited is not None else None,
        "waiting_for_seconds": waited,
        "next_check_at": state.retry_at.isoformat() if since and state.retry_at else None,
    }


def format_wait(seconds: int) -> str:
    """A wait for people: 45s, 12m, 3h05m, 2d04h."""
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def _tell(cert: Certificate, order_url: str, now: datetime, services: Services) -> None:
    """One "Certificate Awaiting Approval" event and SNS alert; one that cannot go out is only logged."""
    spec, state = cert.spec, cert.state
    assert state.awaiting_since is not None
    hours = (now - state.awaiting_since).total_seconds() / 3600
    detail = {
        "certificate": spec.name,
        "domains": list(spec.domains),
        "directory": spec.directory,
        "order_url": order_url,
        "awaiting_since": state.awaiting_since.isoformat(),
        "waiting_hours": round(hours, 1),
        "next_check_at": state.retry_at.isoformat() if state.retry_at else None,
        "serial": state.serial,
        "not_after": state.not_after.isoformat() if state.not_after else None,
    }
    serving = (
        f"The current certificate (serial {state.serial}) keeps serving until {state.not_after:%Y-%m-%d %H:%M} UTC."
        if state.serial and state.not_after
        else "No certificate has been issued for it yet."
    )
    tell(
        services,
        spec.name,
        Notice.CERTIFICATE_AWAITING_APPROVAL,
        detail,
        Alert(
            f"acmevault: {spec.name} awaiting the CA's approval for {hours:.0f} h",
            f"{spec.name} ({', '.join(spec.domains)}): the CA has kept order {order_url} processing since "
            f"{state.awaiting_since:%Y-%m-%d %H:%M} UTC ({hours:.1f} hours). It is most likely waiting for an "
            "approval or an organization/domain validation at the CA (in CertCentral: approve the request, or "
            f"enable automatic approval). acmevault keeps checking. {serving}",
        ),
    )
