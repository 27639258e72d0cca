"""What every use case talks to: the ports, the accounts, the stack's defaults, a clock and a random source.

Built once per container by the composition root (:mod:`acmevault.composition.services`); tests build it
from the in-memory fakes in ``tests/fakes``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from acmevault.app.accounts import Accounts
from acmevault.app.authorization import Gate
from acmevault.ports.ca import CaSession
from acmevault.ports.certificates import Certificates
from acmevault.ports.delivery import CertificateManager, Dns, Files, KeyVault
from acmevault.ports.directories import Directories
from acmevault.ports.telemetry import Alerts, Events, Metrics


@dataclass(frozen=True)
class Services:
    """Everything a use case talks to; built once per container by acmevault.composition.services."""

    directories: Directories
    accounts: Accounts[CaSession]
    certificates: Certificates
    dns: Dns
    acm: CertificateManager
    files: Files
    events: Events
    alerts: Alerts
    keys: KeyVault
    metrics: Metrics
    default_acm_regions: tuple[str, ...]
    # an order the CA keeps processing this long is told to people (then once a day): ApprovalAlertHours
    approval_alert_after: timedelta = timedelta(hours=24)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    rng: random.Random = field(default_factory=random.Random)

    @property
    def gate(self) -> Gate:
        """Authorization decisions over these services, each written to the audit history."""
        return Gate(self.accounts, self.certificates, self.accounts, self.clock)
