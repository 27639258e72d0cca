"""What issuance and renewal send out, recorded: events (``ports.Events``), alerts (``ports.Alerts``),
metrics (``ports.Metrics``) and issue requests (``ports.IssueRequests``). ``down`` makes events and
alerts fail (AwsUnavailable), as EventBridge or SNS being down would."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from acmevault.domain.errors import AwsUnavailable
from acmevault.domain.issue_message import IssueMessage


class EventLog:
    """``events``: (detail type, detail) as published; ``alerts``: (subject, message) as sent."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.alerts: list[tuple[str, str]] = []
        self.down = False

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        """The details of the events of one type, in order."""
        return [detail for sent, detail in self.events if sent == detail_type]

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        if self.down:
            raise AwsUnavailable("EventBridge: cannot reach it")
        self.events.append((detail_type, detail))

    def notify(self, subject: str, message: str) -> None:
        if self.down:
            raise AwsUnavailable("SNS: cannot reach it")
        self.alerts.append((subject, message))


class MetricsLog:
    """Every metric as (name, certificate or None, value)."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, str | None, float]] = []

    def certificate_issued(self, name: str, days_to_expiry: float) -> None:
        self.recorded.append(("CertificateIssued", name, days_to_expiry))

    def renewal_failed(self, name: str) -> None:
        self.recorded.append(("RenewalFailed", name, 1))

    def certificate_expiring(self, name: str, days_to_expiry: float) -> None:
        self.recorded.append(("CertificateExpiring", name, days_to_expiry))

    def sweep_done(self, queued: int, expiring: int) -> None:
        self.recorded.append(("SweepQueued", None, queued))
        self.recorded.append(("SweepExpiring", None, expiring))

    def named(self, metric: str) -> list[tuple[str | None, float]]:
        """(certificate, value) of each ``metric`` recorded."""
        return [(name, value) for m, name, value in self.recorded if m == metric]


class FakeIssueQueue:
    """``messages``: (message, delay in seconds) as they would be delivered, in order of sending."""

    def __init__(self) -> None:
        self.messages: list[tuple[IssueMessage, int]] = []

    def send(self, names: Iterable[str], reason: str, serials: Mapping[str, str | None] | None = None) -> int:
        sent = 0
        for name in names:
            known = serials is not None
            serial = serials.get(name) if serials is not None else None
            self.messages.append((IssueMessage(name, reason, serial, known), 0))
            sent += 1
        return sent

    def send_later(self, message: IssueMessage, delay_seconds: int) -> None:
        self.messages.append((message, delay_seconds))
