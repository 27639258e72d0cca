"""What the use cases ask of an ACME CA (orders, challenges, revocation; its accounts) and of a CA's
own API for ACME credentials (CertCentral).

What each method raises is in its docstring; see acmevault.ports for what every port may raise.
"""

from __future__ import annotations

from typing import Protocol

from acmevault.domain.ari import RenewalInfo
from acmevault.domain.directory import (
    Account,
    CreatedCredential,
    DirectoryCredential,
)
from acmevault.domain.orders import DnsChallenge, Order


class CaSession(Protocol):
    """What issuance and revocation ask of a CA: one session with one ACME account at one directory.

    Every method raises CaUnavailable when the CA cannot be reached, fails (5xx, serverInternal) or
    rate-limits (``retry_after``: the CA's Retry-After, if it gave one): try later. When the CA refuses,
    a CaError, typed for the problems callers act on (``domain.errors.ca_problem``: AlreadyRevoked,
    Unauthorized, ...); CaError too when its answer is not ACME; CredentialRejected when the directory
    has no account yet. (Revoking a certificate with its own key, without an account: ``CaAccounts``.)
    """

    @property
    def directory_url(self) -> str:
        """The ACME directory this session talks to."""
        ...

    @property
    def account_url(self) -> str | None:
        """The account's URL; None when the directory has no account yet."""
        ...

    @property
    def supports_ari(self) -> bool:
        """Whether the CA offers renewal information (RFC 9773)."""
        ...

    def place_order(self, csr_pem: bytes, profile: str | None = None, replaces: str | None = None) -> Order:
        """Place an order for the CSR's names, and only that: its authorizations are not fetched yet, so the
        caller can record the order's URL before anything else can fail. ``replaces``: the ARI id of the
        certificate it renews."""
        ...

    def with_authorizations(self, order: Order) -> Order:
        """The order with its authorizations as they stand at the CA (each with its dns-01 challenge)."""
        ...

    def fetch_order(self, url: str, csr_pem: bytes) -> Order:
        """An order placed earlier, as it stands now at the CA, with its authorizations; ``csr_pem``:
        the CSR it was placed with (to finalize it)."""
        ...

    def answer(self, challenge: DnsChallenge) -> None:
        """Tell the CA the challenge's TXT record is published: it looks now."""
        ...

    def wait_for_authorization(self, url: str, deadline: float) -> None:
        """Wait (until ``deadline``, a monotonic time) for the CA's check of an answered challenge.
        ChallengeFailed, with the CA's reason, when the authorization did not become valid."""
        ...

    def finalize(self, order: Order, deadline: float) -> str:
        """Send the CSR unless the CA has it already, wait for the certificate, return the full chain PEM.
        AwaitingCa when the CA keeps the order processing (an approval): not a failure, the order is
        finished later; CaError when the order became invalid."""
        ...

    def order_urls(self) -> list[str]:
        """Every order of this account, as the CA lists them."""
        ...

    def renewal_info(self, certificate_id: str) -> RenewalInfo:
        """The CA's renewal window for a certificate (its ARI id, ``domain.ari.certificate_id``)."""
        ...

    def revoke(self, certificate_pem: str, reason: int) -> None:
        """Revoke a certificate this account issued (an RFC 5280 reason code); AlreadyRevoked if it was."""
        ...


class CaAccounts(Protocol):
    """ACME accounts at their CAs (RFC 8555 §7.3), for the directory credentials that hold their keys.

    Each call talks to ``credential.directory_url`` and signs with ``credential.account_key`` (for an
    account that exists: as ``credential.account_url``). Every method raises CaUnavailable when the CA
    cannot be reached or answers "not now" (5xx, rate limited: nothing happened, try again), and a
    CaError subclass (domain.errors) for a refusal or an answer that is not ACME.
    """

    def register(self, credential: DirectoryCredential) -> str:
        """Create the account for the credential's key, bound with its EAB credential when it has one, and
        return the account's URL; a key with an account there already gets that account's URL (so a
        registration repeated after a crash spends no second EAB binding).
        Raises CredentialRejected when the CA refuses the EAB credential or the key."""
        ...

    def find_account(self, credential: DirectoryCredential) -> Account | None:
        """The account the credential's key controls, without creating one; None when the CA knows no account
        for the key (as for a key rolled over). Raises Unauthorized when the CA refuses the key (its
        account is deactivated)."""
        ...

    def change_key(self, credential: DirectoryCredential, new_key_pem: str) -> None:
        """Roll the credential's account over to ``new_key_pem`` (§7.3.5): afterwards the CA accepts the new key
        only. Raises CredentialRejected when the credential has no account, Malformed when its key no
        longer controls the account, Unauthorized when the account is deactivated."""
        ...

    def deactivate(self, credential: DirectoryCredential) -> None:
        """Deactivate the credential's account (§7.3.6): the CA refuses everything it signs afterwards.
        Raises Unauthorized when the CA refuses to act for the account (deactivated already),
        CredentialRejected when the credential has no account."""
        ...

    def revoke_with_key(self, directory_url: str, certificate_pem: str, key_pem: str, reason_code: int) -> None:
        """Revoke a certificate at the directory that issued it, signed with the certificate's own key
        (§7.6): no account is needed, so it works for the certificates of a deactivated account.
        Raises AlreadyRevoked when the CA had revoked it already."""
        ...


class CredentialProvider(Protocol):
    """Makes and revokes ACME directory credentials (URL, EAB KID and HMAC key): DigiCert CertCentral.

    Every method raises CaUnavailable when the provider cannot be reached or fails (5xx, 429),
    CredentialRejected when it refuses the API key, ConfigurationError when what a new credential is
    made for is not known, and CaError for any other refusal or an answer it cannot read.
    """

    def create_acme_credential(self, name: str, like_key_id: str | None = None) -> CreatedCredential:
        """A new credential for directory ``name``, made with the settings of the provider's key ``like_key_id``
        (the lost one) when the provider still shows them, else with the configured template."""
        ...

    def revoke_key(self, key_id: str) -> None:
        """Revoke the credential the provider knows as ``key_id``: its URL and EAB key stop working."""
        ...
