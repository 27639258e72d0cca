"""ACME accounts: vault a directory credential (registering at once), and open sessions on it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .acme_session import AcmeSession, generate_account_key
from .errors import ConflictError
from .model import DirectoryCredential, validate_name
from .ports import Directories

log = logging.getLogger(__name__)

SessionFactory = Callable[[DirectoryCredential, str], AcmeSession]


class Accounts:
    """Knows which ACME account belongs to which directory; one session per account per container."""

    def __init__(self, directories: Directories, open_session: SessionFactory = AcmeSession) -> None:
        self._directories = directories
        self._open = open_session
        self._sessions: dict[tuple[str, str | None], AcmeSession] = {}

    def vault(self, name: str, credential: DirectoryCredential) -> DirectoryCredential:
        """Register the account now, so a wrong URL, KID or HMAC is reported while the CA still shows
        them, and only then store the credential with the new account key and URL."""
        validate_name(name, "name")
        if self._directories.exists(name):
            raise ConflictError(
                f"directory {name!r} already exists; replace its credential with 'acmevault directory rotate {name}'"
            )
        account_key = generate_account_key()
        session = self._open(credential, account_key)
        account_url = session.register()
        stored = credential.with_account(account_key, account_url)
        self._directories.create(name, stored)
        self._sessions[(name, account_url)] = session
        log.info("directory vaulted", extra={"directory": name, "account_url": account_url})
        return stored

    def require(self, name: str) -> DirectoryCredential:
        """The directory's current credential; DirectoryNotFound names it when it is missing."""
        return self._directories.get(name)

    def session(self, name: str) -> AcmeSession:
        """A session on the directory's current account, registering it first if the secret has none."""
        credential = self._directories.get(name)
        cached = self._sessions.get((name, credential.account_url))
        if cached is not None:
            return cached
        if credential.needs_registration:
            account_key = credential.account_key or generate_account_key()
            session = self._open(credential, account_key)
            credential = credential.with_account(account_key, session.register())
            self._directories.put_current(name, credential)
            log.info("ACME account registered", extra={"directory": name, "account_url": credential.account_url})
        else:
            assert credential.account_key is not None
            session = self._open(credential, credential.account_key)
        self._sessions[(name, credential.account_url)] = session
        return session
