"""ACME accounts at their CAs (``ports.CaAccounts``), over ``AcmeSession``: one session per call, opened
with the credential's own account key, so a call never signs with a key cached from before a rotation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from acmevault.domain.directory import Account, AccountStatus, DirectoryCredential
from acmevault.domain.errors import CaError, CredentialRejected
from acmevault.domain.quoting import quoted

if TYPE_CHECKING:
    from acmevault.adapters.acme.session import AcmeSession


def open_session(credential: DirectoryCredential, account_key: str) -> AcmeSession:
    """An ACME session on the credential's directory as ``account_key``. acme, josepy and requests are
    imported by the first one: a command or function that never talks to a CA never loads them."""
    from acmevault.adapters.acme.session import AcmeSession

    return AcmeSession(credential, account_key)


class AcmeAccounts:
    """Register, look up, roll over and deactivate ACME accounts; revoke with a certificate's own key."""

    def register(self, credential: DirectoryCredential) -> str:
        """See ``ports.CaAccounts.register``."""
        return _session(credential).register()

    def find_account(self, credential: DirectoryCredential) -> Account | None:
        """See ``ports.CaAccounts.find_account``."""
        found = _session(credential).find_account()
        if found is None:
            return None
        try:
            status = AccountStatus(found.status)
        except ValueError:
            raise CaError(
                f"looking up the ACME account: the CA gave an unknown status, {quoted(found.status)}"
            ) from None
        return Account(url=found.url, status=status)

    def change_key(self, credential: DirectoryCredential, new_key_pem: str) -> None:
        """See ``ports.CaAccounts.change_key``."""
        _session(credential).change_key(new_key_pem)

    def deactivate(self, credential: DirectoryCredential) -> None:
        """See ``ports.CaAccounts.deactivate``."""
        _session(credential).deactivate()

    def revoke_with_key(self, directory_url: str, certificate_pem: str, key_pem: str, reason_code: int) -> None:
        """See ``ports.CaAccounts.revoke_with_key``."""
        open_session(DirectoryCredential(directory_url=directory_url), key_pem).revoke_as_key_holder(
            certificate_pem, reason_code
        )


def _session(credential: DirectoryCredential) -> AcmeSession:
    if credential.account_key is None:
        raise CredentialRejected("the directory credential has no ACME account key")
    return open_session(credential, credential.account_key)
