"""What acmevault tells people and systems (events, alerts) and what it counts (metrics).

What each method raises is in its docstring; see acmevault.ports for what every port may raise.
"""

from __future__ import annotations

from typing import Any, Protocol


class Events(Protocol):
    """Events for systems to subscribe to (EventBridge, source "acmevault")."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Send one event; an event the bus took but did not deliver is logged, not raised."""
        ...


class Alerts(Protocol):
    """Messages for people (an SNS topic): failures, certificates close to expiry, a directory marked lost."""

    def notify(self, subject: str, message: str) -> None:
        """Send the alert; nothing when no topic is configured."""
        ...


class Metrics(Protocol):
    """Numbers for dashboards and alarms (CloudWatch); none raises on purpose."""

    def certificate_issued(self, name: str, days_to_expiry: float) -> None:
        """A certificate was issued (or renewed) and now expires in ``days_to_expiry`` days."""
        ...

    def renewal_failed(self, name: str) -> None:
        """An issuance or renewal of ``name`` failed."""
        ...

    def certificate_expiring(self, name: str, days_to_expiry: float) -> None:
        """``name`` is close to expiry and still not renewed."""
        ...

    def sweep_done(self, queued: int, expiring: int) -> None:
        """A sweep queued ``queued`` certificates and found ``expiring`` close to expiry."""
        ...


class NoMetrics:
    """For the command line: metrics are a Lambda concern (CloudWatch embedded metric format)."""

    def certificate_issued(self, name: str, days_to_expiry: float) -> None:
        """Nothing: no metrics outside Lambda."""

    def renewal_failed(self, name: str) -> None:
        """Nothing: no metrics outside Lambda."""

    def certificate_expiring(self, name: str, days_to_expiry: float) -> None:
        """Nothing: no metrics outside Lambda."""

    def sweep_done(self, queued: int, expiring: int) -> None:
        """Nothing: no metrics outside Lambda."""
