"""One attempt's hold on a certificate: its lease, and its record written step by step under it.

One worker at a time works on a certificate: the lease is a conditional write with an expiry
(LeaseHeld while another worker holds it), released at the end, and taken over once it has run out
(its holder died). Every state write of the attempt is fenced by it: a worker whose lease ran out and
was taken over writes nothing (LeaseLost) over the newer worker's state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from acmevault.app.services import Services
from acmevault.domain.certificate import Certificate, CertificateState

LEASE_SECONDS = 900.0  # an issuance: longer than one Lambda invocation can run


@dataclass(frozen=True)
class Held:
    """A certificate held under its lease: ``owner``, the id that fences the attempt's state writes, and
    ``cert``, the certificate as it was when the lease was taken (the conditional write that took the lease
    answers it: nothing is read after it)."""

    owner: str
    cert: Certificate


@contextmanager
def lease(name: str, services: Services, seconds: float = LEASE_SECONDS) -> Iterator[Held]:
    """Hold the certificate's lease for ``seconds`` at most, released at the end; yields the owner id and
    the certificate as the lease was taken. LeaseHeld when another worker holds it."""
    owner = uuid.uuid4().hex
    cert = services.certificates.acquire_lease(name, owner, services.clock(), seconds)
    try:
        yield Held(owner, cert)
    finally:
        services.certificates.release_lease(name, owner)


@dataclass
class Record:
    """The certificate's record as this attempt writes it: each step is saved before the next begins.
    Every write is fenced by the lease ``owner``: LeaseLost once another worker has taken it over."""

    cert: Certificate
    services: Services
    owner: str | None = None

    def save(self, **changes: Any) -> None:
        """Write the state with ``changes`` (CertificateState fields)."""
        self.put(replace(self.cert.state, **changes))

    def put(self, state: CertificateState) -> None:
        """Write ``state``; ``cert`` holds it even if the write fails, so the failure record can keep it."""
        self.cert = replace(self.cert, state=state)
        self.services.certificates.save_state(self.cert.spec.name, state, self.owner)
