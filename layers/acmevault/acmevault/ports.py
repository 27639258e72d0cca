"""The interfaces use cases talk to. Adapters implement them: acmevault.adapters.aws over botocore,
acmevault.adapters.acme over certbot's ``acme`` package (CaAccounts), acmevault.adapters.certcentral over
DigiCert's Services API (CredentialProvider).

What they raise is acmevault's own errors (acmevault.domain.errors), never a vendor's: each method names
the errors it raises on purpose (DirectoryNotFound, ConflictError, LeaseHeld, ...). Besides those, any
method of a port kept in AWS may raise AwsUnavailable (an UnavailableError: AWS cannot be reached,
throttles or fails; try again later) and AwsError (AWS refused the request: access denied, a bad
parameter). Directories and CredentialVersions check the directory name first: ValidationError when it is
not a valid name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from acmevault.domain.ari import RenewalInfo
from acmevault.domain.certificate import Certificate, CertificateSpec, CertificateState
from acmevault.domain.directory import (
    Account,
    CreatedCredential,
    DirectoryCredential,
    DirectoryState,
    Rotation,
    SupersededCertificate,
)
from acmevault.domain.dns import TxtRecord
from acmevault.domain.issue_message import IssueMessage
from acmevault.domain.keys import CertificateBundle
from acmevault.domain.orders import DnsChallenge, Order
from acmevault.domain.policy import DirectoryPolicy


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


class Certificates(Protocol):
    """The certificate inventory: each certificate's spec and state, its lease, and its audit history."""

    def get(self, name: str) -> Certificate:
        """The certificate as stored now (a consistent read); CertificateNotFound when it is not defined."""
        ...

    def put_spec(self, spec: CertificateSpec, now: datetime) -> Certificate:
        """Define the certificate (pending, due at once), or change its spec and keep its state; never raises
        on purpose."""
        ...

    def save_state(
        self, name: str, state: CertificateState, owner: str | None = None, spec_digest: str | None = None
    ) -> None:
        """Replace the state; with ``owner``, only while that lease holds it (else LeaseLost); with
        ``spec_digest``, only while the stored spec is that one (else SpecChanged). CertificateNotFound
        when the certificate is not defined."""
        ...

    def mark_due(self, name: str, now: datetime) -> None:
        """Make the certificate due now, so the next sweep renews it; CertificateNotFound when it is not defined."""
        ...

    def list(self, limit: int = 100, after: str | None = None) -> tuple[list[Certificate], str | None]:
        """Up to ``limit`` certificates in name order after the name ``after``, and the name to continue after
        (None on the last page)."""
        ...

    def all(self) -> Iterator[Certificate]:
        """Every certificate in name order, read a page at a time."""
        ...

    def due(self, now: datetime) -> Iterator[str]:
        """The names of the certificates due at ``now`` (to renew, to ask ARI again, or to retry)."""
        ...

    def expiring(self, now: datetime) -> Iterator[str]:
        """The names of the certificates past their alert time at ``now``: close to expiry, not renewed."""
        ...

    def postpone_alert(self, name: str, until: datetime) -> None:
        """Tell people about the expiring certificate again at ``until``, not before; nothing when it has no
        alert time any more (revoked or deleted since)."""
        ...

    def acquire_lease(self, name: str, owner: str, now: datetime, seconds: float) -> None:
        """Hold the certificate for ``seconds`` as ``owner`` (one order at a time per certificate); the holder may
        renew it, and an expired lease is taken over. LeaseHeld while another owner holds it; CertificateNotFound
        when the certificate is not defined."""
        ...

    def release_lease(self, name: str, owner: str) -> None:
        """Let go of ``owner``'s lease; nothing when another owner holds it now (it ran out). Never raises on
        purpose."""
        ...

    def delete(self, name: str) -> None:
        """Forget the certificate's spec and state (its history stays); CertificateNotFound when it is not
        defined."""
        ...

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        """Append an audit entry (what happened and when; never a secret) to the certificate's history."""
        ...

    def history(self, name: str, limit: int = 20) -> tuple[dict[str, Any], ...]:
        """The newest ``limit`` history entries, newest first (none for an unknown certificate)."""
        ...


class Dns(Protocol):
    """dns-01 TXT records (``TxtRecord``: zone id, record name, value); ``role_arn``: zones in another account.

    DnsError when Route 53 denies access (to the role in another account too) or rejects a change."""

    def zone_for(self, domain: str, hosted_zone_id: str | None = None, role_arn: str | None = None) -> str:
        """``hosted_zone_id`` when given, else the id of the public zone with the longest name that holds
        ``domain``; DnsError when there is none."""
        ...

    def publish(self, records: Iterable[TxtRecord], deadline: float, role_arn: str | None = None) -> None:
        """Write the records and wait until the DNS serves them; DnsError when a zone refuses them, AwsUnavailable
        when they are not served by ``deadline`` (time.monotonic()): the next attempt resumes."""
        ...

    def remove(self, records: Iterable[TxtRecord], role_arn: str | None = None) -> None:
        """Delete the records; one already gone (or refused) is skipped, so a DnsError never comes out of it."""
        ...

    def caa_values(self, zone: str, name: str, role_arn: str | None = None) -> list[str]:
        """The CAA values at exactly ``name`` in the zone ([] when it has none)."""
        ...


class CertificateManager(Protocol):
    """Where certificates are served from: ACM, in each region a certificate names."""

    def import_certificate(self, region: str, name: str, bundle: CertificateBundle, arn: str | None) -> str:
        """Import the bundle into ``region`` and return its ARN: into ``arn`` when given (an ARN deleted meanwhile
        is imported anew). AwsError when ACM refuses it (another stack's certificate, a bad bundle)."""
        ...

    def mark_revoked(self, region: str, arn: str, reason: str) -> None:
        """Tag the certificate at ``arn`` as revoked, for whoever attaches it; nothing when it is gone."""
        ...

    def clear_revoked(self, region: str, arn: str) -> None:
        """Drop the revoked tag once a new certificate was imported into the same ARN."""
        ...

    def delete_certificate(self, region: str, arn: str) -> None:
        """Delete an ACM certificate; ConflictError while something still uses it; nothing when it is gone."""
        ...


class Files(Protocol):
    """The certificate files people and systems fetch (S3): PEMs and a metadata document per certificate."""

    def put_bundle(self, name: str, bundle: CertificateBundle, metadata: dict[str, Any]) -> dict[str, str]:
        """Write the certificate, chain, full chain, key and then the metadata naming them; return each file's
        version id."""
        ...

    def get_certificate_pem(self, name: str) -> str:
        """The certificate served now (leaf, PEM); ConflictError when none was written yet."""
        ...

    def mark_revoked(self, name: str, revoked: dict[str, Any]) -> None:
        """Record the revocation in the metadata; the files stay."""
        ...

    def find_private_key(self, name: str, certificate_pem: str) -> str | None:
        """The private key of an earlier certificate of ``name`` (PEM); None when no kept version matches."""
        ...


class Events(Protocol):
    """Events for systems to subscribe to (EventBridge, source "acmevault")."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Send one event; an event the bus took but did not deliver is logged, not raised."""
        ...


class Alerts(Protocol):
    """Messages for people (an SNS topic): failures, certificates close to expiry, a directory marked lost."""

    def notify(self, subject: str, message: str) -> None:
        """Send the alert; nothing when no topic is configured."""
        ...


class KeyVault(Protocol):
    """Encrypts the private keys that are kept in the table for a while (an order in flight, a lagging region)."""

    def encrypt(self, name: str, plaintext: str) -> bytes | None:
        """``plaintext`` encrypted for certificate ``name``; None when no key is configured (then nothing is kept)."""
        ...

    def decrypt(self, name: str, ciphertext: bytes) -> str:
        """What ``encrypt`` encrypted for ``name``; AwsError when it was encrypted for another certificate."""
        ...


class Metrics(Protocol):
    """Numbers for dashboards and alarms (CloudWatch); none raises on purpose."""

    def certificate_issued(self, name: str, days_to_expiry: float) -> None:
        """A certificate was issued (or renewed) and now expires in ``days_to_expiry`` days."""
        ...

    def renewal_failed(self, name: str) -> None:
        """An issuance or renewal of ``name`` failed."""
        ...

    def certificate_expiring(self, name: str, days_to_expiry: float) -> None:
        """``name`` is close to expiry and still not renewed."""
        ...

    def sweep_done(self, queued: int, expiring: int) -> None:
        """A sweep queued ``queued`` certificates and found ``expiring`` close to expiry."""
        ...


class NoMetrics:
    """For the command line: metrics are a Lambda concern (CloudWatch embedded metric format)."""

    def certificate_issued(self, name: str, days_to_expiry: float) -> None:
        """Nothing: no metrics outside Lambda."""

    def renewal_failed(self, name: str) -> None:
        """Nothing: no metrics outside Lambda."""

    def certificate_expiring(self, name: str, days_to_expiry: float) -> None:
        """Nothing: no metrics outside Lambda."""

    def sweep_done(self, queued: int, expiring: int) -> None:
        """Nothing: no metrics outside Lambda."""


class DirectoryStates(Protocol):
    """A directory's status beside its secret (lost or not, and the version the last rotation made current),
    its access policy, and its audit history."""

    def state(self, name: str) -> DirectoryState:
        """The directory's state (a consistent read); active, with nothing else, when none was recorded."""
        ...

    def policy(self, name: str) -> DirectoryPolicy | None:
        """The directory's access policy; None when it has none (then only admins may use it)."""
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


class IssueRequests(Protocol):
    """Where certificates are queued for issuance (the issue queue)."""

    def send(self, names: Iterable[str], reason: str, serials: Mapping[str, str | None] | None = None) -> int:
        """Queue the names and return how many were queued; ``serials``: each one's serial when it was asked for
        (on-demand messages). AwsUnavailable when the queue did not take some of them."""
        ...

    def send_later(self, message: IssueMessage, delay_seconds: int) -> None:
        """Queue ``message`` again, to be delivered after ``delay_seconds`` (at most 900)."""
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


class KeyArchive(Protocol):
    """Where the private keys of earlier certificates can still be found (S3's older versions)."""

    def find_private_key(self, name: str, certificate_pem: str) -> str | None:
        """The private key (PEM) of ``certificate_pem``, an earlier certificate of ``name``; None when no kept
        version matches."""
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
