"""ACME accounts: vault a directory credential (registering at once), and open sessions on it.

Registration goes through ``ports.CaAccounts``; the sessions issuance works with are opened by the
factory given (``composition.services``: ``AcmeSession``), one per account and key per container.

A directory marked lost opens no session: issuance stops with an error telling the operator to
rotate. That check runs on every issuance, so it is one small read (a DynamoDB GetItem of a few
attributes, the directory's policy with them: ``state_and_policy``); it also says when another
container rotated the credential, so no container keeps using an account or key the CA no longer
accepts. Neither is cached: a change takes effect at the next issuance.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Generic, TypeVar

from acmevault.domain.directory import DirectoryCredential, DirectoryState
from acmevault.domain.errors import AcmeVaultError, ConflictError, DirectoryLost
from acmevault.domain.policy import DirectoryPolicy
from acmevault.domain.validation import validate_name
from acmevault.ports.ca import CaAccounts
from acmevault.ports.directories import Directories, DirectoryStates, RotationScheduler

log = logging.getLogger(__name__)

SessionT = TypeVar("SessionT")


class Accounts(Generic[SessionT]):
    """Knows which ACME account belongs to which directory; one session per account per container.

    ``open_session(credential, account_key)`` opens a session on an account (what issuance works with).
    """

    def __init__(
        self,
        directories: Directories,
        ca: CaAccounts,
        open_session: Callable[[DirectoryCredential, str], SessionT],
        states: DirectoryStates | None = None,
        scheduler: RotationScheduler | None = None,
    ) -> None:
        self._directories = directories
        self._ca = ca
        self._open = open_session
        self._states = states
        self._scheduler = scheduler
        # Keyed by the account key too: a key rollover keeps the account URL.
        self._sessions: dict[tuple[str, str | None, str], SessionT] = {}
        self._generations: dict[str, str | None] = {}

    def vault(self, name: str, credential: DirectoryCredential) -> DirectoryCredential:
        """Register the account now, so a wrong URL, KID or HMAC is reported while the CA still shows
        them, and only then store the credential with the new account key and URL."""
        validate_name(name, "name")
        if self._directories.exists(name):
            raise ConflictError(
                f"directory {name!r} already exists; replace its credential with 'acmevault directory rotate {name}'"
            )
        from acmevault.domain.keys import generate_account_key  # cryptography: only to register an account

        account_key = generate_account_key()
        account_url = self._ca.register(replace(credential, account_key=account_key, account_url=None))
        stored = credential.with_account(account_key, account_url)
        self._directories.create(name, stored)
        log.info("directory vaulted", extra={"directory": name, "account_url": account_url})
        if self._scheduler is not None:
            try:
                self._scheduler.schedule(name)
            except AcmeVaultError as error:
                # The credential is vaulted and works; only the automatic key rollover is missing.
                log.warning(
                    "directory vaulted, but its rotation schedule could not be set: %s",
                    error.message,
                    extra={"directory": name},
                )
        return stored

    @property
    def ca(self) -> CaAccounts:
        """The accounts at their CAs (``ports.CaAccounts``), for what needs no directory's session: revoking a
        certificate with its own key at the directory that issued it."""
        return self._ca

    def require(self, name: str) -> DirectoryCredential:
        """The directory's current credential; DirectoryNotFound names it when it is missing."""
        return self._directories.get(name)

    def state(self, name: str) -> DirectoryState:
        """The directory's status: lost or not, and the secret version the last rotation made current."""
        return DirectoryState() if self._states is None else self._states.state(name)

    def policy(self, name: str) -> DirectoryPolicy | None:
        """Who may use the directory, for which names; None: no policy (admins only, any name)."""
        return None if self._states is None else self._states.policy(name)

    def state_and_policy(self, name: str) -> tuple[DirectoryState, DirectoryPolicy | None]:
        """``state`` and ``policy`` in one read (an issuance checks both; each issuance reads them again)."""
        return (DirectoryState(), None) if self._states is None else self._states.state_and_policy(name)

    def set_policy(self, name: str, policy: DirectoryPolicy, actor: str) -> None:
        """Replace the directory's whole policy, noted in its history; DirectoryNotFound when it is not vaulted."""
        self.require(name)
        if self._states is None:
            raise ConflictError("this stack keeps no directory records, so a directory cannot have a policy")
        self._states.set_policy(name, policy)
        self._states.add_history(name, {"action": "policy set", "actor": actor, "outcome": "ok", **policy.to_dict()})

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        """An entry in the directory's audit history (who, when, what, outcome)."""
        if self._states is not None:
            self._states.add_history(name, entry)

    def forget(self, name: str) -> None:
        """Drop what this container cached about the directory (after a rotation or a revoke)."""
        self._directories.forget(name)
        for key in [k for k in self._sessions if k[0] == name]:
            del self._sessions[key]

    def session(self, name: str, state: DirectoryState | None = None) -> SessionT:
        """A session on the directory's current account; ``state``: the directory's state as the caller has
        just read it (``state_and_policy``), else it is read here.

        Raises DirectoryLost when the directory is marked lost, and ConflictError when its secret has no
        account (written outside acmevault): the issue worker may read credentials, never write them.
        """
        state = self.state(name) if state is None else state
        if state.lost:
            raise DirectoryLost(name, f"{state.changed_at:%Y-%m-%d %H:%M} UTC" if state.changed_at else None)
        if state.generation is not None and self._generations.get(name) != state.generation:
            self._directories.forget(name)  # rotated since this container read it: read the new credential
        self._generations[name] = state.generation
        credential = self._directories.get(name)
        cached = self._sessions.get((name, credential.account_url, _fingerprint(credential.account_key)))
        if cached is not None:
            return cached
        if credential.needs_registration:
            raise ConflictError(
                f"directory {name!r} has no ACME account (its secret was written outside acmevault); register "
                f"one with 'acmevault directory rotate {name} --url URL --eab-kid KID' (HMAC key on stdin)"
            )
        assert credential.account_key is not None
        session = self._open(credential, credential.account_key)
        self._sessions[(name, credential.account_url, _fingerprint(credential.account_key))] = session
        return session


def _fingerprint(account_key: str | None) -> str:
    return hashlib.sha256((account_key or "").encode()).hexdigest()[:16]
