"""CloudWatch metrics through Powertools (embedded metric format, flushed by the handler's decorator)."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric


class PowertoolsMetrics:
    """Metrics through Powertools: counts, and days to expiry (per certificate when ``per_certificate``)."""

    def __init__(self, metrics: Metrics, per_certificate: bool = True) -> None:
        self._metrics = metrics
        # A metric per certificate costs about $0.30 a month each: worth it for hundreds, not 100,000.
        self._per_certificate = per_certificate

    def certificate_issued(self, name: str, days_to_expiry: float) -> None:
        """Count a success, and record the new certificate's days to expiry."""
        self._metrics.add_metric(name="RenewalsSucceeded", unit=MetricUnit.Count, value=1)
        self._days_to_expiry(name, days_to_expiry)

    def renewal_failed(self, name: str) -> None:
        """Count a failed issuance or renewal."""
        self._metrics.add_metric(name="RenewalsFailed", unit=MetricUnit.Count, value=1)

    def certificate_expiring(self, name: str, days_to_expiry: float) -> None:
        """Record the days to expiry of a certificate that is close to it."""
        self._days_to_expiry(name, days_to_expiry)

    def sweep_done(self, queued: int, expiring: int) -> None:
        """Record what a sweep queued and how many certificates it found expiring."""
        self._metrics.add_metric(name="RenewalsQueued", unit=MetricUnit.Count, value=queued)
        self._metrics.add_metric(name="CertificatesExpiring", unit=MetricUnit.Count, value=expiring)

    def _days_to_expiry(self, name: str, days: float) -> None:
        # The Minimum of this one is the certificate closest to expiry, whatever the inventory's size.
        self._metrics.add_metric(name="DaysToExpiry", unit=MetricUnit.Count, value=round(days, 2))
        if not self._per_certificate:
            return
        # One metric per certificate (its own dimension): the dashboard shows them all with a SEARCH.
        with single_metric(
            name="DaysToExpiry",
            unit=MetricUnit.Count,
            value=round(days, 2),
            namespace=self._metrics.namespace,
            default_dimensions={"certificate": name},
        ):
            pass
