"""The certificate table in memory (``ports.Certificates``), with the DynamoDB adapter's rules
(acmevault.adapters.aws.table):

* a lease (owner, until) per certificate: taken when free, expired or already the taker's, else LeaseHeld
  (with until when), and the certificate answered as it was taken; released only by its owner;
* ``save_state`` with an ``owner`` writes only while that owner holds the lease (else LeaseLost); with a
  ``spec_digest``, only while the stored spec is that one (else SpecChanged); never the lease itself; with
  ``answer``, it answers the certificate as written (the spec as it is then);
* the due index (``due_at``: the state's own, or now after ``put_spec`` of a new certificate and
  ``mark_due``) and the alert index (``alert_at``, none while revoked);
* history entries, newest first when read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from acmevault.domain.certificate import Certificate, CertificateSpec, CertificateState, Status
from acmevault.domain.errors import AwsUnavailable, CertificateNotFound, LeaseHeld, LeaseLost, SpecChanged


@dataclass
class _Item:
    spec: CertificateSpec
    state: CertificateState
    digest: str
    due_at: datetime | None
    alert_at: datetime | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None


class InMemoryCertificates:
    """Certificates by name; ``writes`` counts state writes, ``reads`` the calls of ``get`` (a GetItem each in
    DynamoDB; what a write answers is no read); ``down`` makes every call raise AwsUnavailable."""

    def __init__(self) -> None:
        self._items: dict[str, _Item] = {}
        self._history: dict[str, list[dict[str, Any]]] = {}  # kept apart, as its own items: a deletion keeps it
        self.writes = 0
        self.reads = 0
        self.down = False

    # -- for tests ----------------------------------------------------------------------------------

    def lease_holder(self, name: str) -> str | None:
        """Who holds the lease now (None: nobody)."""
        return self._item(name).lease_owner

    def due_at(self, name: str) -> datetime | None:
        """The certificate's place in the due index."""
        return self._item(name).due_at

    # -- ports.Certificates -------------------------------------------------------------------------

    def get(self, name: str) -> Certificate:
        self.reads += 1
        return self._certificate(name)

    def put_spec(self, spec: CertificateSpec, now: datetime) -> Certificate:
        self._reach()
        item = self._items.get(spec.name)
        if item is None:
            self._items[spec.name] = _Item(spec, CertificateState(renew_at=now), spec.digest, due_at=now)
        else:
            item.spec, item.digest = spec, spec.digest
        return self._certificate(spec.name)

    def save_state(
        self, name: str, state: CertificateState, owner: str | None = None, spec_digest: str | None = None
    ) -> None:
        self._write_state(name, state, owner, spec_digest)

    def save_state_and_get(
        self, name: str, state: CertificateState, owner: str | None = None, spec_digest: str | None = None
    ) -> Certificate:
        self._write_state(name, state, owner, spec_digest)
        return self._certificate(name)

    def _write_state(self, name: str, state: CertificateState, owner: str | None, spec_digest: str | None) -> None:
        item = self._item(name)
        if owner is not None and item.lease_owner != owner:
            raise LeaseLost(name)
        if spec_digest is not None and item.digest != spec_digest:
            raise SpecChanged(name)
        item.state = replace(state, lease_until=None)
        item.due_at = state.due_at
        item.alert_at = state.alert_at if state.status is not Status.REVOKED else None
        self.writes += 1

    def mark_due(self, name: str, now: datetime) -> None:
        item = self._item(name)
        item.state = replace(item.state, renew_at=now)
        item.due_at = now

    def list(self, limit: int = 100, after: str | None = None) -> tuple[list[Certificate], str | None]:
        self._reach()
        names = sorted(n for n in self._items if after is None or n > after)
        page = names[:limit]
        return [self._certificate(n) for n in page], (page[-1] if len(names) > limit else None)

    def all(self) -> Iterator[Certificate]:
        return iter([self._certificate(n) for n in sorted(self._items)])

    def due(self, now: datetime) -> Iterator[str]:
        self._reach()
        return iter(sorted(n for n, i in self._items.items() if i.due_at is not None and i.due_at <= now))

    def expiring(self, now: datetime) -> Iterator[str]:
        self._reach()
        return iter(sorted(n for n, i in self._items.items() if i.alert_at is not None and i.alert_at <= now))

    def postpone_alert(self, name: str, until: datetime) -> None:
        item = self._item(name)
        if item.alert_at is not None:
            item.alert_at = until

    def acquire_lease(self, name: str, owner: str, now: datetime, seconds: float) -> Certificate:
        item = self._item(name)
        held = item.lease_until is not None and item.lease_until >= now and item.lease_owner != owner
        if held:
            raise LeaseHeld(name, item.lease_until)
        item.lease_owner, item.lease_until = owner, now + timedelta(seconds=seconds)
        return self._certificate(name)

    def release_lease(self, name: str, owner: str) -> None:
        item = self._item(name)
        if item.lease_owner == owner:
            item.lease_owner, item.lease_until = None, None

    def delete(self, name: str) -> None:
        self._item(name)
        del self._items[name]

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        self._reach()
        self._history.setdefault(name, []).append(dict(entry))

    def history(self, name: str, limit: int = 20) -> tuple[dict[str, Any], ...]:
        self._reach()
        return tuple(reversed(self._history.get(name, [])))[:limit]

    def _certificate(self, name: str) -> Certificate:
        item = self._item(name)
        return Certificate(item.spec, replace(item.state, lease_until=item.lease_until))

    def _item(self, name: str) -> _Item:
        self._reach()
        if name not in self._items:
            raise CertificateNotFound(name)
        return self._items[name]

    def _reach(self) -> None:
        if self.down:
            raise AwsUnavailable("DynamoDB: cannot reach it")
