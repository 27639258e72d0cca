"""In-memory ACME CAs for ``ports.CaAccounts``: accounts with keys and statuses, EAB credentials, revocations.

A request is "signed" with the credential's account key (the PEM text stands for the key). The CA answers
as Pebble does where rotation depends on it: a key with an account gets that account back from
registration, a key rolled over no longer finds its account, a deactivated account's key is refused
(Unauthorized), a request signed with a key that is not the account's does not verify (Malformed).
With ``single_use_eab`` an EAB key id binds one account only, as at some commercial CAs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acmevault.domain.directory import Account, AccountStatus, DirectoryCredential
from acmevault.domain.errors import (
    AlreadyRevoked,
    CaError,
    CaUnavailable,
    CredentialRejected,
    Malformed,
    Unauthorized,
)


@dataclass
class FakeAccount:
    """An account as the CA holds it."""

    url: str
    directory_url: str
    key: str
    eab_kid: str | None
    status: AccountStatus = AccountStatus.VALID


@dataclass
class FakeDirectory:
    """One ACME directory: the EAB credentials it accepts (None: EAB is not required)."""

    eab: dict[str, str] | None = None
    single_use_eab: bool = False
    bound: set[str] = field(default_factory=set)  # EAB key ids that bound an account


class FakeCa:
    """Any number of ACME directories, by URL; ``calls`` lists every request, ``revoked`` every revocation."""

    def __init__(self) -> None:
        self.directories: dict[str, FakeDirectory] = {}
        self.accounts: dict[str, FakeAccount] = {}
        self.revoked: dict[tuple[str, str], int] = {}  # (directory URL, certificate PEM) → reason code
        self.calls: list[str] = []
        self.down = False  # unreachable: every request raises CaUnavailable

    # -- set up and read back (tests) ---------------------------------------------------------

    def add_directory(self, url: str, eab: dict[str, str] | None = None, single_use_eab: bool = False) -> None:
        """A directory at ``url`` accepting the EAB credentials ``eab`` (key id → HMAC key)."""
        self.directories[url] = FakeDirectory(dict(eab) if eab is not None else None, single_use_eab)

    def add_eab(self, url: str, kid: str, hmac_key: str) -> None:
        """One more EAB credential the directory at ``url`` accepts."""
        directory = self.directories.setdefault(url, FakeDirectory({}))
        assert directory.eab is not None
        directory.eab[kid] = hmac_key

    def account_of(self, credential: DirectoryCredential) -> FakeAccount:
        """The account the credential names."""
        assert credential.account_url is not None
        return self.accounts[credential.account_url]

    def count(self, call: str) -> int:
        """How many requests of this kind the CA answered."""
        return self.calls.count(call)

    # -- ports.CaAccounts ---------------------------------------------------------------------

    def register(self, credential: DirectoryCredential) -> str:
        """See ``ports.CaAccounts.register``."""
        directory = self._directory(credential, "register")
        key = _key(credential)
        existing = self._by_key(credential.directory_url, key)
        if existing is not None:
            if existing.status is not AccountStatus.VALID:
                raise CredentialRejected(f"the CA rejected the credential: account is {existing.status.value}")
            return existing.url
        if directory.eab is not None:
            kid = credential.eab_kid
            if kid is None or directory.eab.get(kid) != credential.eab_hmac_key:
                raise CredentialRejected("the CA rejected the credential (check eab_kid and eab_hmac_key)")
            if directory.single_use_eab and kid in directory.bound:
                raise CredentialRejected("the CA rejected the credential: the EAB key id is used already")
            directory.bound.add(kid)
        url = f"{credential.directory_url.removesuffix('/dir')}/acct/{len(self.accounts) + 1}"
        self.accounts[url] = FakeAccount(url, credential.directory_url, key, credential.eab_kid)
        return url

    def find_account(self, credential: DirectoryCredential) -> Account | None:
        """See ``ports.CaAccounts.find_account``."""
        self._directory(credential, "find_account")
        found = self._by_key(credential.directory_url, _key(credential))
        if found is None:
            return None
        if found.status is AccountStatus.DEACTIVATED:
            raise Unauthorized("looking up the ACME account: the CA refused (unauthorized)", "unauthorized")
        return Account(found.url, found.status)

    def change_key(self, credential: DirectoryCredential, new_key_pem: str) -> None:
        """See ``ports.CaAccounts.change_key``."""
        self._directory(credential, "change_key")
        account = self._signed(credential)
        if self._by_key(credential.directory_url, new_key_pem) is not None:
            raise CaError("rolling over the account key: the new key has an account already")
        account.key = new_key_pem

    def deactivate(self, credential: DirectoryCredential) -> None:
        """See ``ports.CaAccounts.deactivate``."""
        self._directory(credential, "deactivate")
        self._signed(credential).status = AccountStatus.DEACTIVATED

    def revoke_with_key(self, directory_url: str, certificate_pem: str, key_pem: str, reason_code: int) -> None:
        """See ``ports.CaAccounts.revoke_with_key`` (the key is not checked against the certificate here)."""
        self._reach(directory_url, "revoke_with_key")
        if (directory_url, certificate_pem) in self.revoked:
            raise AlreadyRevoked("revoking the certificate: the CA refused (alreadyRevoked)", "alreadyRevoked")
        self.revoked[(directory_url, certificate_pem)] = reason_code

    # -- the CA's rules -----------------------------------------------------------------------

    def _reach(self, url: str, call: str) -> FakeDirectory:
        if self.down:
            raise CaUnavailable(f"cannot reach the CA at {url}")
        if url not in self.directories:
            raise CaError(f"{url} is not an ACME directory")
        self.calls.append(call)
        return self.directories[url]

    def _directory(self, credential: DirectoryCredential, call: str) -> FakeDirectory:
        return self._reach(credential.directory_url, call)

    def _by_key(self, directory_url: str, key: str) -> FakeAccount | None:
        return next((a for a in self.accounts.values() if a.directory_url == directory_url and a.key == key), None)

    def _signed(self, credential: DirectoryCredential) -> FakeAccount:
        """The account a request with this credential acts on: refused unless its key is the account's."""
        if credential.account_url is None:
            raise CredentialRejected("the directory has no ACME account yet; register it first")
        account = self.accounts.get(credential.account_url)
        if account is None or account.key != _key(credential):
            raise Malformed("the CA refused (malformed): the JWS signature does not verify", "malformed")
        if account.status is not AccountStatus.VALID:
            raise Unauthorized(f"the CA refused (unauthorized): account is {account.status.value}", "unauthorized")
        return account


def _key(credential: DirectoryCredential) -> str:
    if credential.account_key is None:
        raise CredentialRejected("the directory credential has no ACME account key")
    return credential.account_key
