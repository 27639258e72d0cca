"""Directory credentials and their records beside them, in memory, as issuance reads them
(``ports.Directories`` and ``ports.DirectoryStates``): the current version of each directory's secret,
and the table's DIR item (lost or not, policy, history) — the latter is rotation's fake of the records,
so issuance and rotation judge a directory's state by one set of rules."""

from __future__ import annotations

from typing import Any

from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import DirectoryNotFound

from tests.fakes.directories import FakeDirectoryRecords


class FakeDirectoryVault(FakeDirectoryRecords):
    """``credentials``: name → the current credential; states, policies and history as FakeDirectoryRecords
    keeps them."""

    def __init__(self) -> None:
        super().__init__()
        self.credentials: dict[str, DirectoryCredential] = {}

    # -- ports.Directories --------------------------------------------------------------------------

    def get(self, name: str, stage: str = "AWSCURRENT") -> DirectoryCredential:
        if name not in self.credentials:
            raise DirectoryNotFound(name)
        return self.credentials[name]

    def exists(self, name: str) -> bool:
        return name in self.credentials

    def create(self, name: str, credential: DirectoryCredential) -> None:
        self.credentials[name] = credential

    def list(self) -> list[str]:
        return sorted(self.credentials)

    def describe(self, name: str) -> dict[str, Any]:
        return {"versions": [{"stages": ["AWSCURRENT"]}]}

    def forget(self, name: str) -> None:
        pass  # nothing is cached here
