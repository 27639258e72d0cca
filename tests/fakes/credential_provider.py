"""An in-memory CertCentral for ``ports.CredentialProvider``: each credential it makes is an EAB key id and
HMAC key at its own ACME directory, which the fake CA then accepts. (tests/fakes/certcentral.py is the
HTTP fake of the real API, for the adapter's contract tests.)"""

from __future__ import annotations

import base64

from acmevault.domain.directory import CreatedCredential, DirectoryCredential
from acmevault.domain.errors import CaError, CredentialRejected

from tests.fakes.ca_accounts import FakeCa

DIRECTORY_URL = "https://acme.certcentral.test/v2/acme/directory/{n}"


class FakeCredentialProvider:
    """Makes credentials at the fake CA; ``keys``: key id → "active" or "revoked"; ``likes``: the key ids
    each new credential was asked to be made like."""

    def __init__(self, ca: FakeCa) -> None:
        self.ca = ca
        self.keys: dict[str, str] = {}
        self.likes: list[str | None] = []
        self.refuses_api_key = False

    def create_acme_credential(self, name: str, like_key_id: str | None = None) -> CreatedCredential:
        """See ``ports.CredentialProvider.create_acme_credential``."""
        self._check_api_key()
        self.likes.append(like_key_id)
        n = len(self.keys) + 1
        url, kid = DIRECTORY_URL.format(n=n), f"cc-kid-{n}"
        hmac_key = base64.urlsafe_b64encode(f"certcentral hmac key {n:011d}".encode()).decode().rstrip("=")
        self.ca.add_eab(url, kid, hmac_key)
        key_id = str(1000 + n)
        self.keys[key_id] = "active"
        return CreatedCredential(key_id, DirectoryCredential(url, kid, hmac_key))

    def revoke_key(self, key_id: str) -> None:
        """See ``ports.CredentialProvider.revoke_key``."""
        self._check_api_key()
        if key_id not in self.keys:
            raise CaError(f"CertCentral: revoking the lost ACME credential: no key {key_id}")
        self.keys[key_id] = "revoked"

    def _check_api_key(self) -> None:
        if self.refuses_api_key:
            raise CredentialRejected("CertCentral: the API key was refused (HTTP 401)")
