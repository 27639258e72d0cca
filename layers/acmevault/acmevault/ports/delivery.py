"""Where a certificate goes and what it needs on the way: dns-01 records, ACM, S3, the key vault.

What each method raises is in its docstring; see acmevault.ports for what every port may raise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from acmevault.domain.dns import TxtRecord

if TYPE_CHECKING:  # annotations only: keys loads cryptography, which a read-only command never needs
    from acmevault.domain.keys import CertificateBundle


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


class KeyVault(Protocol):
    """Encrypts the private keys that are kept in the table for a while (an order in flight, a lagging region)."""

    def encrypt(self, name: str, plaintext: str) -> bytes | None:
        """``plaintext`` encrypted for certificate ``name``; None when no key is configured (then nothing is kept)."""
        ...

    def decrypt(self, name: str, ciphertext: bytes) -> str:
        """What ``encrypt`` encrypted for ``name``; AwsError when it was encrypted for another certificate."""
        ...
