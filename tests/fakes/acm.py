"""AWS Certificate Manager in memory (``ports.CertificateManager``): certificates by region and ARN.

A re-import into an ARN replaces its certificate and keeps the ARN, as ACM does. ``failing`` holds the
regions whose every call fails (AwsUnavailable), as a region outage would.
"""

from __future__ import annotations

import itertools

from acmevault.domain.errors import AwsUnavailable, ConflictError
from acmevault.domain.keys import CertificateBundle


class FakeAcm:
    """``certificates``: (region, ARN) → the serial it holds; ``revoked``: (region, ARN) → reason tag."""

    def __init__(self) -> None:
        self.certificates: dict[tuple[str, str], str] = {}
        self.revoked: dict[tuple[str, str], str] = {}
        self.in_use: set[tuple[str, str]] = set()  # attached to a load balancer: deleting is refused
        self.failing: set[str] = set()
        self.imports = 0
        self._ids = itertools.count(1)

    def serial_in(self, region: str, arn: str) -> str | None:
        """The serial the ARN holds in the region (None: no such certificate)."""
        return self.certificates.get((region, arn))

    # -- ports.CertificateManager -----------------------------------------------------------------

    def import_certificate(self, region: str, name: str, bundle: CertificateBundle, arn: str | None) -> str:
        self._reach(region)
        self.imports += 1
        arn = arn or f"arn:aws:acm:{region}:123456789012:certificate/{name}-{next(self._ids)}"
        self.certificates[(region, arn)] = bundle.serial
        return arn

    def mark_revoked(self, region: str, arn: str, reason: str) -> None:
        self._reach(region)
        self.revoked[(region, arn)] = reason

    def clear_revoked(self, region: str, arn: str) -> None:
        self._reach(region)
        self.revoked.pop((region, arn), None)

    def delete_certificate(self, region: str, arn: str) -> None:
        self._reach(region)
        if (region, arn) in self.in_use:
            raise ConflictError(f"ACM certificate {arn} is in use")
        self.certificates.pop((region, arn), None)

    def _reach(self, region: str) -> None:
        if region in self.failing:
            raise AwsUnavailable(f"ACM in {region}: cannot reach it")
