"""What the rotation use cases talk to (``RotationServices``), and what a replacement asks for (``NewCredential``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from acmevault.domain.directory import DirectoryCredential, RotationSource
from acmevault.ports.ca import CaAccounts, CredentialProvider
from acmevault.ports.certificates import Certificates, IssueRequests, KeyArchive
from acmevault.ports.directories import CredentialVersions, DirectoryRecords
from acmevault.ports.telemetry import Alerts, Events

# Who runs a rotation Secrets Manager starts (functions/rotate), in the history and the events.
SCHEDULE_ACTOR = "secretsmanager (rotation schedule)"


class CredentialCache(Protocol):
    """What this container keeps of a directory's credential (``Accounts``: the credential, its sessions)."""

    def forget(self, name: str) -> None:
        """Drop it: the next use reads the credential again. Raises nothing."""
        ...


@dataclass(frozen=True)
class RotationServices:
    """What the rotation use cases talk to; built once per container by acmevault.composition.services."""

    secrets: CredentialVersions  # the directory secrets' versions and staging labels
    records: DirectoryRecords  # each directory's state, rotation, history and superseded certificates
    certificates: Certificates
    queue: IssueRequests  # where a replacement queues the old account's certificates for re-issue
    keys: KeyArchive  # where a superseded certificate's private key is found, to revoke it
    ca: CaAccounts
    events: Events
    alerts: Alerts
    cache: CredentialCache  # forgotten once a rotation changes the credential in use
    certcentral: Callable[[], CredentialProvider] | None = None  # None: CertCentral is not configured
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass(frozen=True)
class NewCredential:
    """What a lost-URL replacement asks for: a credential from the operator, or one CertCentral makes."""

    credential: DirectoryCredential | None  # None: ask CertCentral for one
    revoke_previous: bool = False  # revoke the old account's certificates once their replacements are served

    @property
    def source(self) -> RotationSource:
        """Where the new credential comes from."""
        return RotationSource.OPERATOR if self.credential is not None else RotationSource.CERTCENTRAL
