"""In-memory directory secrets (``ports.CredentialVersions``, and what ``ports.Directories`` reads of them) and
directory records (``ports.DirectoryRecords``), as Secrets Manager and the DynamoDB table behave for what
rotation asks of them.

Secrets Manager's rules kept here: a staging label is on at most one version (putting or moving it takes it
off the other), making a version AWSCURRENT moves AWSPREVIOUS to the one it replaces, a version's value
never changes (putting a different value under an existing version id is refused), and a version without
labels is not listed (it is deprecated) yet still readable by id. A rotation Secrets Manager starts has its
AWSPENDING version before createSecret gives it a value (``start_rotation``).
"""

from __future__ import annotations

from typing import Any

from acmevault.domain.directory import DirectoryCredential, DirectoryState, Rotation, SupersededCertificate
from acmevault.domain.errors import ConflictError, DirectoryNotFound, ValidationError
from acmevault.domain.policy import DirectoryPolicy

ARN_PREFIX = "arn:aws:secretsmanager:us-east-1:123456789012:secret:acmevault/test/directories/"


class FakeDirectorySecrets:
    """Directory secrets: per directory, version id → value (None: not given yet) and version id → labels."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, DirectoryCredential | None]] = {}
        self.labels: dict[str, dict[str, set[str]]] = {}
        self._versions = 0

    # -- set up and read back (tests) ---------------------------------------------------------

    def create(self, name: str, credential: DirectoryCredential) -> str:
        """A new directory secret with ``credential`` as AWSCURRENT; returns the version id."""
        self.values[name], self.labels[name] = {}, {}
        return self._put(name, self._new_version(), credential, "AWSCURRENT")

    def arn(self, name: str) -> str:
        """The secret's ARN, as a rotation event carries it."""
        return f"{ARN_PREFIX}{name}-AbCdEf"

    def start_rotation(self, name: str, token: str) -> None:
        """What Secrets Manager does before createSecret: version ``token``, labelled AWSPENDING, no value yet."""
        self._put(name, token, None, "AWSPENDING")

    def value(self, name: str, stage: str = "AWSCURRENT") -> DirectoryCredential:
        """The credential labelled ``stage``."""
        version_id = self.version_with(name, stage)
        assert version_id is not None, f"no version of {name} is {stage}"
        found = self.values[name][version_id]
        assert found is not None
        return found

    def all_labels(self, name: str) -> list[str]:
        """Every label on the secret, sorted."""
        return sorted(label for labels in self.labels[name].values() for label in labels)

    # -- ports.Directories (what a directory's view reads) ------------------------------------

    def get(self, name: str, stage: str = "AWSCURRENT") -> DirectoryCredential:
        """The credential labelled ``stage``; DirectoryNotFound when the directory has none."""
        version_id = self.version_with(name, stage)
        found = self._values(name).get(version_id) if version_id is not None else None
        if found is None:
            raise DirectoryNotFound(name)
        return found

    def describe(self, name: str) -> dict[str, Any]:
        """The secret's versions and their labels (no dates: the fake keeps none)."""
        return {"versions": {v: list(labels) for v, labels in self.stages(name).items()}}

    # -- ports.CredentialVersions -------------------------------------------------------------

    def name_of(self, secret_id: str) -> str:
        """The directory of an ARN from ``arn`` (or of a plain name); DirectoryNotFound for another secret."""
        name = secret_id.removeprefix(ARN_PREFIX).rsplit("-", 1)[0] if secret_id.startswith(ARN_PREFIX) else secret_id
        if name not in self.values:
            raise DirectoryNotFound(secret_id)
        return name

    def stages(self, name: str) -> dict[str, tuple[str, ...]]:
        """Version id → its labels, for the versions that have any."""
        return {v: tuple(sorted(labels)) for v, labels in self._labels(name).items() if labels}

    def version_with(self, name: str, stage: str) -> str | None:
        """The version labelled ``stage``."""
        return next((v for v, labels in self._labels(name).items() if stage in labels), None)

    def get_version(self, name: str, version_id: str) -> DirectoryCredential | None:
        """One version by id; None when it does not exist or has no value yet."""
        return self._values(name).get(version_id)

    def put_version(self, name: str, version_id: str, credential: DirectoryCredential, stage: str) -> None:
        """Give ``version_id`` its value, labelled ``stage`` (never AWSCURRENT)."""
        assert stage != "AWSCURRENT", "a version becomes current through promote()"
        self._put(name, version_id, credential, stage)

    def remove_stage(self, name: str, stage: str, version_id: str) -> None:
        """Take ``stage`` off ``version_id``."""
        self._labels(name).get(version_id, set()).discard(stage)

    def promote(self, name: str, version_id: str) -> None:
        """Make ``version_id`` AWSCURRENT (the one it replaces becomes AWSPREVIOUS) and take AWSPENDING off it."""
        current = self.version_with(name, "AWSCURRENT")
        if current != version_id:
            self._move(name, "AWSPREVIOUS", current)
            self._move(name, "AWSCURRENT", version_id)
        self.remove_stage(name, "AWSPENDING", version_id)

    # -- Secrets Manager's rules --------------------------------------------------------------

    def _values(self, name: str) -> dict[str, DirectoryCredential | None]:
        if name not in self.values:
            raise DirectoryNotFound(name)
        return self.values[name]

    def _labels(self, name: str) -> dict[str, set[str]]:
        if name not in self.labels:
            raise DirectoryNotFound(name)
        return self.labels[name]

    def _put(self, name: str, version_id: str, credential: DirectoryCredential | None, stage: str) -> str:
        values = self._values(name)
        stored = values.get(version_id)
        if stored is not None and stored != credential:
            raise ValidationError("ClientRequestToken", f"version {version_id} has a value already (a different one)")
        values[version_id] = credential if credential is not None else stored
        self._move(name, stage, version_id)
        return version_id

    def _move(self, name: str, stage: str, version_id: str | None) -> None:
        labels = self._labels(name)
        for held in labels.values():
            held.discard(stage)
        if version_id is not None:
            labels.setdefault(version_id, set()).add(stage)

    def _new_version(self) -> str:
        self._versions += 1
        return f"{self._versions:08d}-0000-4000-8000-000000000000"


class FakeDirectoryRecords:
    """Each directory's state, policy, rotation, history and superseded certificates (those kept as their
    stored attributes, ``SupersededCertificate.to_dict``); ``save_rotation`` refuses to overwrite another
    unfinished rotation, as the table's condition does. ``reads`` counts the reads of a directory's state or
    policy (one GetItem of its DIR item each in DynamoDB, ``state_and_policy`` one for both)."""

    def __init__(self) -> None:
        self.reads = 0
        self.states: dict[str, DirectoryState] = {}
        self.policies: dict[str, DirectoryPolicy] = {}
        self.rotations: dict[str, Rotation] = {}
        self.entries: dict[str, list[dict[str, Any]]] = {}
        self.superseded: dict[str, dict[str, dict[str, Any]]] = {}  # directory → certificate → stored attributes

    def state(self, name: str) -> DirectoryState:
        """The directory's status (active when nothing was recorded)."""
        self.reads += 1
        return self.states.get(name, DirectoryState())

    def set_state(self, name: str, state: DirectoryState) -> None:
        """Replace the status."""
        self.states[name] = state

    def policy(self, name: str) -> DirectoryPolicy | None:
        """The directory's policy, if it has one."""
        self.reads += 1
        return self.policies.get(name)

    def state_and_policy(self, name: str) -> tuple[DirectoryState, DirectoryPolicy | None]:
        """The status and the policy, as one read."""
        self.reads += 1
        return self.states.get(name, DirectoryState()), self.policies.get(name)

    def set_policy(self, name: str, policy: DirectoryPolicy) -> None:
        """Replace the policy."""
        self.policies[name] = policy

    def rotation(self, name: str) -> Rotation | None:
        """The rotation in progress, or the last one."""
        return self.rotations.get(name)

    def save_rotation(self, name: str, rotation: Rotation) -> None:
        """Store the rotation; ConflictError while another, unfinished one is recorded."""
        held = self.rotations.get(name)
        if held is not None and held.token != rotation.token and not held.finished:
            raise ConflictError(f"another rotation of directory {name!r} is in progress")
        self.rotations[name] = rotation

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        """Append an audit entry."""
        self.entries.setdefault(name, []).append(dict(entry))

    def history(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, newest first."""
        return list(reversed(self.entries.get(name, [])))[:limit]

    def add_revocation(self, name: str, entry: SupersededCertificate) -> None:
        """Note a certificate to revoke; an entry noted already is kept as it is."""
        self.superseded.setdefault(name, {}).setdefault(entry.certificate, entry.to_dict())

    def revocations(self, name: str, certificate: str | None = None) -> list[SupersededCertificate]:
        """The noted certificates (or ``certificate``'s entry), read back from their stored attributes."""
        stored = self.superseded.get(name, {})
        return [SupersededCertificate.from_dict(c, data) for c, data in stored.items() if certificate in (None, c)]

    def settle_revocation(self, name: str, entry: SupersededCertificate) -> None:
        """Store the entry's state, and when it was revoked or why it was given up."""
        settled = {k: v for k, v in entry.to_dict().items() if k in ("state", "revoked_at", "error")}
        self.superseded[name][entry.certificate].update(settled)

    # -- read back (tests) ----------------------------------------------------------------------

    def actions(self, name: str) -> list[tuple[str, str]]:
        """(action, outcome) of each history entry, oldest first."""
        return [(e["action"], e["outcome"]) for e in self.entries.get(name, [])]
