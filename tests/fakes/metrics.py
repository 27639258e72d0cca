"""CloudWatch metrics, recorded (``ports.Metrics``)."""

from __future__ import annotations


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
