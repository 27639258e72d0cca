"""A stand-in for the part of DigiCert no emulator has: signing Signed HTTP Exchange certificates.

Pebble cannot put the CanSignHttpExchanges extension in what it issues, so a test that needs such a
certificate signs one itself: with its own small CA (root → intermediate), either from scratch (for
the checker) or by re-signing the leaf Pebble issued (the same names, key and dates) with the
extension added, as the fault proxy's ``certificates`` hook (for the whole issuance on the local stack).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

CAN_SIGN_HTTP_EXCHANGES = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.22")
ASN1_NULL = b"\x05\x00"  # the extension's value, as the SXG specification defines it


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class SxgCa:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    name: x509.Name = field(default_factory=lambda: _name("test SXG intermediate"))

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        domains: list[str],
        public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
        days: float = 90,
        sxg: bool = True,
        not_before: datetime | None = None,
        serial: int | None = None,
    ) -> x509.Certificate:
        """A leaf for ``domains`` and ``public_key``, with the CanSignHttpExchanges extension if ``sxg``."""
        start = not_before or datetime.now(UTC) - timedelta(minutes=1)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(domains[0]))
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(serial or x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
        )
        if sxg:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(CAN_SIGN_HTTP_EXCHANGES, ASN1_NULL), critical=False
            )
        return builder.sign(self.key, hashes.SHA256())

    def fullchain(self, leaf: x509.Certificate) -> str:
        return _pem(leaf) + _pem(self.certificate)

    def resign(self, fullchain_pem: str) -> str:
        """Pebble's leaf (first in the chain) re-signed here with the extension added: the proxy's hook."""
        leaf = x509.load_pem_x509_certificates(fullchain_pem.encode())[0]
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        public_key = leaf.public_key()
        assert isinstance(public_key, (ec.EllipticCurvePublicKey, rsa.RSAPublicKey))
        resigned = self.issue(
            names.get_values_for_type(x509.DNSName),
            public_key,
            days=(leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds() / 86400,
            not_before=leaf.not_valid_before_utc,
            serial=leaf.serial_number,
        )
        return self.fullchain(resigned)
