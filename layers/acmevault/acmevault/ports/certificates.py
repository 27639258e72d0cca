"""Where certificates are kept (specs, state, leases, history), queued for issuance, and their
previous private keys archived.

What each method raises is in its docstring; see acmevault.ports for what every port may raise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from acmevault.domain.certificate import Certificate, CertificateSpec, CertificateState
from acmevault.domain.issue_message import IssueMessage


class Certificates(Protocol):
    """The certificate inventory: each certificate's spec and state, its lease, and its audit history."""

    def get(self, name: str) -> Certificate:
        """The certificate as stored now (a consistent read); CertificateNotFound when it is not defined."""
        ...

    def put_spec(self, spec: CertificateSpec, now: datetime) -> Certificate:
        """Define the certificate (pending, due at once), or change its spec and keep its state; never raises
        on purpose."""
        ...

    def save_state(
        self, name: str, state: CertificateState, owner: str | None = None, spec_digest: str | None = None
    ) -> None:
        """Replace the state; with ``owner``, only while that lease holds it (else LeaseLost); with
        ``spec_digest``, only while the stored spec is that one (else SpecChanged). CertificateNotFound
        when the certificate is not defined."""
        ...

    def save_state_and_get(
        self, name: str, state: CertificateState, owner: str | None = None, spec_digest: str | None = None
    ) -> Certificate:
        """``save_state``, answering the certificate as that write left it (its spec as it is then) with no
        read after it. Raises what ``save_state`` raises; used only where the answer is read (it costs)."""
        ...

    def mark_due(self, name: str, now: datetime) -> None:
        """Make the certificate due now, so the next sweep renews it; CertificateNotFound when it is not defined."""
        ...

    def list(self, limit: int = 100, after: str | None = None) -> tuple[list[Certificate], str | None]:
        """Up to ``limit`` certificates in name order after the name ``after``, and the name to continue after
        (None on the last page)."""
        ...

    def all(self) -> Iterator[Certificate]:
        """Every certificate in name order, read a page at a time."""
        ...

    def due(self, now: datetime) -> Iterator[str]:
        """The names of the certificates due at ``now`` (to renew, to ask ARI again, or to retry)."""
        ...

    def expiring(self, now: datetime) -> Iterator[str]:
        """The names of the certificates past their alert time at ``now``: close to expiry, not renewed."""
        ...

    def postpone_alert(self, name: str, until: datetime) -> None:
        """Tell people about the expiring certificate again at ``until``, not before; nothing when it has no
        alert time any more (revoked or deleted since)."""
        ...

    def acquire_lease(self, name: str, owner: str, now: datetime, seconds: float) -> Certificate:
        """Hold the certificate for ``seconds`` as ``owner`` (one order at a time per certificate), and answer it
        as it was when the lease was taken (the same write, no read after it); the holder may renew it, and an
        expired lease is taken over. LeaseHeld while another owner holds it; CertificateNotFound when the
        certificate is not defined."""
        ...

    def release_lease(self, name: str, owner: str) -> None:
        """Let go of ``owner``'s lease; nothing when another owner holds it now (it ran out). Never raises on
        purpose."""
        ...

    def delete(self, name: str) -> None:
        """Forget the certificate's spec and state (its history stays); CertificateNotFound when it is not
        defined."""
        ...

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        """Append an audit entry (what happened and when; never a secret) to the certificate's history."""
        ...

    def history(self, name: str, limit: int = 20) -> tuple[dict[str, Any], ...]:
        """The newest ``limit`` history entries, newest first (none for an unknown certificate)."""
        ...


class IssueRequests(Protocol):
    """Where certificates are queued for issuance (the issue queue)."""

    def send(self, names: Iterable[str], reason: str, serials: Mapping[str, str | None] | None = None) -> int:
        """Queue the names and return how many were queued; ``serials``: each one's serial when it was asked for
        (on-demand messages). AwsUnavailable when the queue did not take some of them."""
        ...

    def send_later(self, message: IssueMessage, delay_seconds: int) -> None:
        """Queue ``message`` again, to be delivered after ``delay_seconds`` (at most 900)."""
        ...


class KeyArchive(Protocol):
    """Where the private keys of earlier certificates can still be found (S3's older versions)."""

    def find_private_key(self, name: str, certificate_pem: str) -> str | None:
        """The private key (PEM) of ``certificate_pem``, an earlier certificate of ``name``; None when no kept
        version matches."""
        ...
