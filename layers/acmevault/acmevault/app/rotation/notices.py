"""What rotation tells people and systems: the details of its events ("Directory Rotated", "Directory
Revoked", "Certificate Revoked") and the alert of a directory marked lost, sent through ``app.notices.tell``.
Never a secret. (A directory as people are shown it: ``app.views.directory_detail``.)"""

from __future__ import annotations

from typing import Any

from acmevault.app.notices import Alert
from acmevault.app.rotation.account import Deactivation
from acmevault.domain.directory import DirectoryCredential, DirectoryState, Rotation


def rotated_detail(name: str, rotation: Rotation) -> dict[str, Any]:
    """The "Directory Rotated" event's detail."""
    return {
        "directory": name,
        "kind": rotation.kind.value,
        "source": rotation.source.value,
        "actor": rotation.actor,
        "directory_url": rotation.directory_url,
        "account_url": rotation.account_url,
        "previous_account_url": rotation.previous_account_url,
        "revoke_previous": rotation.revoke_previous,
        "token": rotation.token,
        "rotated_at": rotation.finished_at.isoformat() if rotation.finished_at else None,
    }


def lost_detail(
    name: str,
    credential: DirectoryCredential,
    state: DirectoryState,
    actor: str,
    reason: str | None,
    deactivation: Deactivation,
) -> dict[str, Any]:
    """The "Directory Revoked" event's detail: a directory marked lost, and what became of its account."""
    return {
        "directory": name,
        "account_url": credential.account_url,
        "directory_url": credential.directory_url,
        "actor": actor,
        "reason": reason,
        "marked_lost_at": state.changed_at.isoformat() if state.changed_at else None,
        "deactivation": deactivation.value,
    }


def lost_alert(
    name: str, credential: DirectoryCredential, actor: str, reason: str | None, deactivation: Deactivation
) -> Alert:
    """The alert that goes with "Directory Revoked": what happened, and what to run next."""
    return Alert(
        f"acmevault: directory {name} marked lost",
        f"The ACME credential of directory {name} ({credential.public_view()['host']}) was marked lost by "
        f"{actor}{f' ({reason})' if reason else ''}. Its account is {deactivation.value}; nothing is issued from "
        f"it until it is replaced: acmevault directory rotate {name} --url URL --eab-kid KID. "
        "Certificates already issued stay valid and keep being served.",
    )


def superseded_revoked_detail(certificate: str, serial: str, revoked_at: str) -> dict[str, Any]:
    """The "Certificate Revoked" event's detail for a certificate a replaced account issued."""
    return {"certificate": certificate, "serial": serial, "reason": "superseded", "revoked_at": revoked_at}
