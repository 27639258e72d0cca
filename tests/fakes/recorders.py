"""Recorders for what use cases send out: events and alerts (``ports.Events``, ``ports.Alerts``), issue
requests (``ports.IssueRequests``), and a clock tests move by hand."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from acmevault.domain.errors import AwsUnavailable


class Outlets:
    """EventBridge and SNS: ``events`` (detail type, detail) and ``alerts`` (subject, message) as sent;
    with ``down``, every send raises AwsUnavailable (and nothing is recorded)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.alerted: list[tuple[str, str]] = []
        self.down = False

    @property
    def events(self) -> Outlets:
        """This recorder, as ``ports.Events``."""
        return self

    @property
    def alerts(self) -> Outlets:
        """This recorder, as ``ports.Alerts``."""
        return self

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Record an event."""
        if self.down:
            raise AwsUnavailable("EventBridge: cannot reach it")
        self.sent.append((detail_type, detail))

    def notify(self, subject: str, message: str) -> None:
        """Record an alert."""
        if self.down:
            raise AwsUnavailable("SNS: cannot reach it")
        self.alerted.append((subject, message))

    def of_type(self, detail_type: str) -> list[dict[str, Any]]:
        """The details of the events of one type, in order."""
        return [detail for sent_type, detail in self.sent if sent_type == detail_type]


class IssueRecorder:
    """The issue queue: each ``send`` as (names, reason, serials); each ``send_later`` as (message, delay)."""

    def __init__(self) -> None:
        self.sent: list[tuple[list[str], str, dict[str, str | None]]] = []
        self.later: list[tuple[Any, int]] = []

    def send(self, names: Iterable[str], reason: str, serials: Mapping[str, str | None] | None = None) -> int:
        """Record the names queued."""
        queued = list(names)
        self.sent.append((queued, reason, dict(serials or {})))
        return len(queued)

    def send_later(self, message: Any, delay_seconds: int) -> None:
        """Record a message handed back, to be delivered after ``delay_seconds``."""
        self.later.append((message, delay_seconds))


class Clock:
    """A clock that moves only when told; ``__call__`` is what services take as their clock."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move on by a timedelta's worth (``advance(minutes=5)``)."""
        self.now += timedelta(**delta)
