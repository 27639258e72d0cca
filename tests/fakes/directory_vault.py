"""Directory credentials and their status beside them, in memory, as issuance reads them
(``ports.Directories`` and ``ports.DirectoryStates``): Secrets Manager's current version of each
directory's secret, and the table's DIR item (lost or not, generation, policy, history)."""

from __future__ import annotations

from typing import Any

from acmevault.domain.directory import DirectoryCredential, DirectoryState
from acmevault.domain.errors import DirectoryNotFound
from acmevault.domain.policy import DirectoryPolicy


class FakeDirectoryVault:
    """``credentials``: name → the current credential; ``states``, ``policies``, ``histories`` beside them."""

    def __init__(self) -> None:
        self.credentials: dict[str, DirectoryCredential] = {}
        self.states: dict[str, DirectoryState] = {}
        self.policies: dict[str, DirectoryPolicy] = {}
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.reads = 0

    # -- ports.Directories --------------------------------------------------------------------------

    def get(self, name: str, stage: str = "AWSCURRENT") -> DirectoryCredential:
        self.reads += 1
        if name not in self.credentials:
            raise DirectoryNotFound(name)
        return self.credentials[name]

    def exists(self, name: str) -> bool:
        return name in self.credentials

    def create(self, name: str, credential: DirectoryCredential) -> None:
        self.credentials[name] = credential

    def put_current(self, name: str, credential: DirectoryCredential) -> None:
        self.credentials[name] = credential

    def list(self) -> list[str]:
        return sorted(self.credentials)

    def describe(self, name: str) -> dict[str, Any]:
        return {"versions": [{"stages": ["AWSCURRENT"]}]}

    def forget(self, name: str) -> None:
        pass  # nothing is cached here

    # -- ports.DirectoryStates ----------------------------------------------------------------------

    def state(self, name: str) -> DirectoryState:
        return self.states.get(name, DirectoryState())

    def policy(self, name: str) -> DirectoryPolicy | None:
        return self.policies.get(name)

    def set_policy(self, name: str, policy: DirectoryPolicy) -> None:
        self.policies[name] = policy

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        self.histories.setdefault(name, []).append(dict(entry))
