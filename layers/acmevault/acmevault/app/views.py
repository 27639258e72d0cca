"""What a person or a system is shown of a directory or a certificate: the API's answers, and what the
command line prints (its tables and text are rendered from the same dicts; `--json` prints them).

Never a secret: no HMAC key, no account key, no private key; the EAB key id is masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from acmevault.app.awaiting import waiting_view
from acmevault.domain.certificate import Certificate, PendingOrder
from acmevault.domain.directory import RevocationState, Rotation
from acmevault.ports.directories import Directories, DirectoryRecords


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def directory_view(name: str, directories: Directories) -> dict[str, Any]:
    """A directory as a listing shows it: whether its account is registered, host, masked KID, account URL,
    and its secret's version dates and stages (the API's ``Directory``)."""
    credential = directories.get(name)
    return {
        "name": name,
        "status": "registered" if credential.account_url else "unregistered",
        **credential.public_view(),
        **directories.describe(name),
    }


def directory_detail(
    name: str, directories: Directories, records: DirectoryRecords, history: int = 20
) -> dict[str, Any]:
    """``directory_view`` and what acmevault keeps beside the secret: state (lost or not), access policy,
    the last rotation, the certificates waiting to be revoked, and the newest ``history`` audit entries
    (none for 0). The API's ``DirectoryDetail``; `directory list` and `directory show` render it too."""
    state = records.state(name)
    rotation = records.rotation(name)
    policy = records.policy(name)
    waiting = [e.certificate for e in records.revocations(name) if e.state is RevocationState.WAITING]
    return {
        **directory_view(name, directories),
        "state": state.status.value,
        "policy": policy.to_dict() if policy else None,
        "marked_lost": ({"at": _iso(state.changed_at), "by": state.changed_by} if state.lost else None),
        "rotation": _rotation_view(rotation) if rotation else None,
        "revocations_waiting": waiting,
        "history": records.history(name, history) if history > 0 else [],
    }


def _rotation_view(rotation: Rotation) -> dict[str, Any]:
    return {
        "kind": rotation.kind.value,
        "token": rotation.token,
        "source": rotation.source.value,
        "actor": rotation.actor,
        "started_at": rotation.started_at.isoformat(),
        "finished_at": _iso(rotation.finished_at),
        "outcome": rotation.outcome.value if rotation.outcome else "in progress",
        "steps_done": [step.value for step in rotation.done],
        "account_url": rotation.account_url,
        "previous_account_url": rotation.previous_account_url,
        "revoke_previous": rotation.revoke_previous,
    }


def certificate_view(
    cert: Certificate, default_regions: Sequence[str] = (), now: datetime | None = None
) -> dict[str, Any]:
    """The certificate as people see it; ``default_regions``: the stack's ACM regions, for a spec naming none;
    ``now`` (default: the clock) measures how long an order has waited at the CA."""
    state = cert.state
    wanted = cert.spec.acm_regions or tuple(default_regions)
    now = now or datetime.now(UTC)
    locked = state.lease_until is not None and state.lease_until > now
    return {
        "name": cert.spec.name,
        **cert.spec.to_dict(),
        "status": state.status.value,
        "serial": state.serial,
        "not_before": _iso(state.not_before),
        "not_after": _iso(state.not_after),
        "renew_at": _iso(state.renew_at),
        "acm_arns": dict(state.acm_arns),
        "regions": {region: r.to_dict() for region, r in sorted(state.regions.items())},
        # in the record, no longer in the spec: their ACM certificates are left alone and not renewed
        "dropped_regions": sorted(r for r in state.regions if wanted and r not in wanted),
        "pending_order": None if state.pending is None else _pending_view(state.pending),
        "locked_until": _iso(state.lease_until) if locked else None,
        "s3_prefix": state.s3_prefix,
        "account_url": state.account_url,
        "last_error": state.last_error,
        "consecutive_failures": state.consecutive_failures,
        "updated_at": _iso(state.updated_at),
        **waiting_view(state, now),
        "issuer_directory_url": state.issuer_directory_url,
        "warnings": list(state.warnings),
    }


def _pending_view(pending: PendingOrder) -> dict[str, Any]:
    """An order in flight, without its key."""
    return {
        "order_url": pending.order_url,
        "domains": None if pending.domains is None else list(pending.domains),
        "key_type": None if pending.key_type is None else pending.key_type.value,
        "directory": pending.directory,
        "downloaded": pending.fullchain is not None,
    }
