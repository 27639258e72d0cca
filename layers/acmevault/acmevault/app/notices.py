"""What acmevault tells people and systems: EventBridge events (source ``acmevault``) and SNS alerts.

Every event and alert goes out through :func:`tell`, under one policy: **telling never fails the action**.
A certificate that was issued, revoked or marked failed stays so when EventBridge or SNS is down; the
notice that could not go out is logged (with what it was about) and the action carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from acmevault.ports.telemetry import Alerts, Events

log = logging.getLogger(__name__)


class Notice(StrEnum):
    """The events' detail types (what subscribers match on); the README lists each one's detail."""

    CERTIFICATE_ISSUED = "Certificate Issued"
    CERTIFICATE_RENEWED = "Certificate Renewed"
    CERTIFICATE_RENEWAL_FAILED = "Certificate Renewal Failed"
    CERTIFICATE_REGION_FAILED = "Certificate Region Failed"
    CERTIFICATE_REGION_DROPPED = "Certificate Region Dropped"
    CERTIFICATE_EXPIRING = "Certificate Expiring"
    CERTIFICATE_AWAITING_APPROVAL = "Certificate Awaiting Approval"
    CERTIFICATE_REVOKED = "Certificate Revoked"
    DIRECTORY_REVOKED = "Directory Revoked"
    DIRECTORY_ROTATED = "Directory Rotated"


@dataclass(frozen=True)
class Alert:
    """An SNS alert: a person is expected to read it."""

    subject: str
    message: str


class Outlets(Protocol):
    """Where notices go (``Services`` has both)."""

    @property
    def events(self) -> Events:
        """Where events go (EventBridge)."""
        ...

    @property
    def alerts(self) -> Alerts:
        """Where alerts go (SNS)."""
        ...


def tell(outlets: Outlets, about: str, notice: Notice, detail: Mapping[str, Any], alert: Alert | None = None) -> bool:
    """Publish ``notice`` with ``detail``, then send ``alert`` if given; never raises.

    ``about`` (a certificate's or a directory's name) goes into the log line of a notice that did not go out.
    Returns whether everything went out.
    """
    delivered = _attempt(about, notice, lambda: outlets.events.publish(notice.value, dict(detail)))
    if alert is not None:
        delivered = _attempt(about, notice, lambda: outlets.alerts.notify(alert.subject, alert.message)) and delivered
    return delivered


def alert(outlets: Outlets, about: str, message: Alert) -> bool:
    """Send an alert that goes with no event (or with several); never raises."""
    return _attempt(about, None, lambda: outlets.alerts.notify(message.subject, message.message))


def _attempt(about: str, notice: Notice | None, send: Callable[[], None]) -> bool:
    try:
        send()
    except Exception as error:  # noqa: BLE001 - the policy: telling never fails the action it tells of
        what = notice.value if notice else "alert"
        reason = getattr(error, "message", type(error).__name__)
        log.error("could not tell people", extra={"about": about, "notice": what, "error": reason})
        return False
    return True
