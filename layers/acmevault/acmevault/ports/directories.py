"""Where directory credentials are vaulted (versions and stages), their state and records kept, and
their rotation scheduled.

What each method raises is in its docstring; see acmevault.ports for what every port may raise.
"""

from __future__ import annotations

from typing import Any, Protocol

from acmevault.domain.directory import (
    DirectoryCredential,
    DirectoryState,
    Rotation,
    SupersededCertificate,
)
from acmevault.domain.policy import DirectoryPolicy


class Directories(Protocol):
    """The vaulted ACME directory credentials, one secret per directory (cached briefly per container)."""

    def get(self, name: str, stage: str = "AWSCURRENT") -> DirectoryCredential:
        """The credential at ``stage``. DirectoryNotFound when the directory is not vaulted; ValidationError
        when its secret is not a credential (not JSON, an unknown field, ...)."""
        ...

    def exists(self, name: str) -> bool:
        """Whether the directory is vaulted (ValidationError, as ``get``, when its secret is not a credential)."""
        ...

    def create(self, name: str, credential: DirectoryCredential) -> None:
        """Vault a new directory; ConflictError when one of that name exists already."""
        ...

    def list(self) -> list[str]:
        """The names of the vaulted directories, sorted."""
        ...

    def describe(self, name: str) -> dict[str, Any]:
        """Metadata, never a value: when the secret was created and changed, and its versions with their
        staging labels. DirectoryNotFound when the directory is not vaulted."""
        ...

    def forget(self, name: str) -> None:
        """Drop what this container cached of the directory: the next ``get`` reads it again. Never raises."""
        ...


class DirectoryStates(Protocol):
    """A directory's status beside its secret (lost or not, and the version the last rotation made current),
    its access policy, and its audit history."""

    def state(self, name: str) -> DirectoryState:
        """The directory's state (a consistent read); active, with nothing else, when none was recorded."""
        ...

    def policy(self, name: str) -> DirectoryPolicy | None:
        """The directory's access policy; None when it has none (then only admins may use it)."""
        ...

    def state_and_policy(self, name: str) -> tuple[DirectoryState, DirectoryPolicy | None]:
        """``state`` and ``policy`` together, in one consistent read of both (what each issuance checks)."""
        ...

    def set_policy(self, name: str, policy: DirectoryPolicy) -> None:
        """Replace the directory's whole policy (its other records are left as they are)."""
        ...

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        """Append an audit entry (who, when, what, outcome; never a secret) to the directory's history."""
        ...


class DirectoryRecords(DirectoryStates, Protocol):
    """Status, rotation progress, audit history and revocations to come, for the rotation use cases."""

    def set_state(self, name: str, state: DirectoryState) -> None:
        """Replace the directory's state (status, who changed it and when, generation)."""
        ...

    def rotation(self, name: str) -> Rotation | None:
        """The rotation in progress, or the last one finished; None when the directory was never rotated."""
        ...

    def save_rotation(self, name: str, rotation: Rotation) -> None:
        """Record the rotation's progress; ConflictError while another, unfinished rotation is recorded."""
        ...

    def history(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` audit entries of the directory, newest first."""
        ...

    def add_revocation(self, name: str, entry: SupersededCertificate) -> None:
        """Remember a certificate of the replaced account to revoke later (``RevocationState.WAITING``); an entry
        already there (a resumed rotation) is kept as it is."""
        ...

    def revocations(self, name: str, certificate: str | None = None) -> list[SupersededCertificate]:
        """The directory's noted certificates, in every state (or ``certificate``'s entry alone)."""
        ...

    def settle_revocation(self, name: str, entry: SupersededCertificate) -> None:
        """Store the entry's new state: revoked (with when) or failed (with why)."""
        ...


class RotationScheduler(Protocol):
    """Puts a newly vaulted directory on a rotation schedule."""

    def schedule(self, name: str) -> None:
        """Rotate the directory's credential on the stack's schedule (not now); DirectoryNotFound when it is not
        vaulted."""
        ...


class CredentialVersions(Protocol):
    """A directory secret's versions and staging labels: what a rotation moves between."""

    def name_of(self, secret_id: str) -> str:
        """The directory of a secret given by ARN or name; DirectoryNotFound when there is no such secret,
        ValidationError when it is not a directory secret of this stack."""
        ...

    def stages(self, name: str) -> dict[str, tuple[str, ...]]:
        """Each version id with its staging labels; DirectoryNotFound when the directory is not vaulted."""
        ...

    def version_with(self, name: str, stage: str) -> str | None:
        """The version holding ``stage``; None when none does. DirectoryNotFound when the directory is not
        vaulted."""
        ...

    def get_version(self, name: str, version_id: str) -> DirectoryCredential | None:
        """One version's credential; None when there is no such version or it has no value yet. ValidationError
        when its value is not a credential."""
        ...

    def put_version(self, name: str, version_id: str, credential: DirectoryCredential, stage: str) -> None:
        """Store ``credential`` as version ``version_id`` labelled ``stage`` (never AWSCURRENT: see ``promote``)."""
        ...

    def remove_stage(self, name: str, stage: str, version_id: str) -> None:
        """Take the label ``stage`` off version ``version_id``."""
        ...

    def promote(self, name: str, version_id: str) -> None:
        """Make ``version_id`` the current credential (the one it replaces becomes AWSPREVIOUS); DirectoryNotFound
        when the directory is not vaulted."""
        ...
