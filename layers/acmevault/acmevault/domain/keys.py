"""Keys, CSRs and certificate bundles, with cryptography. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from acmevault.domain.certificate import KeyType
from acmevault.domain.errors import CertificateRejected

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

_CURVES = {KeyType.EC_P256: ec.SECP256R1, KeyType.EC_P384: ec.SECP384R1}
_RSA_BITS = {KeyType.RSA_2048: 2048, KeyType.RSA_3072: 3072, KeyType.RSA_4096: 4096}


def generate_private_key(key_type: KeyType) -> PrivateKey:
    """A new private key of ``key_type``."""
    if key_type in _CURVES:
        return ec.generate_private_key(_CURVES[key_type]())
    return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_BITS[key_type])


def private_key_pem(key: PrivateKey) -> str:
    """The key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def generate_account_key() -> str:
    """A new ACME account key (EC P-256, as PKCS#8 PEM): what a directory's account signs with."""
    return private_key_pem(ec.generate_private_key(ec.SECP256R1()))


def load_private_key(pem: str) -> PrivateKey:
    """An EC or RSA private key from unencrypted PEM; CertificateRejected for any other kind."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise CertificateRejected("only EC and RSA keys are supported")
    return key


def build_csr(key: CertificateIssuerPrivateKeyTypes, domains: tuple[str, ...]) -> bytes:
    """A PEM CSR: the first name is the subject CN (when it fits in 64 characters), all are SANs."""
    builder = x509.CertificateSigningRequestBuilder()
    if len(domains[0]) <= 64:
        builder = builder.subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domains[0])]))
    builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in domains]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def key_type_of(certificate: x509.Certificate) -> KeyType | None:
    """The key type of a certificate's public key, as a spec names it; None for a key no spec can name."""
    public = certificate.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return next((t for t, curve in _CURVES.items() if isinstance(public.curve, curve)), None)
    if isinstance(public, rsa.RSAPublicKey):
        return next((t for t, bits in _RSA_BITS.items() if public.key_size == bits), None)
    return None


def _public_bytes(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class CertificateBundle:
    """An issued certificate with its chain and key, checked to belong together."""

    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    private_key_pem: str = field(repr=False)

    @classmethod
    def from_fullchain(cls, fullchain_pem: str, private_key_pem: str, domains: tuple[str, ...]) -> CertificateBundle:
        """Parse and check what the CA returned: ACM would refuse a mismatch, moto does not."""
        try:
            certs = x509.load_pem_x509_certificates(fullchain_pem.encode())
        except ValueError as exc:
            raise CertificateRejected(f"the CA returned a certificate that does not parse: {exc}") from None
        leaf, chain = certs[0], tuple(certs[1:])
        bundle = cls(leaf, chain, private_key_pem)
        bundle.check(domains)
        return bundle

    def check(self, domains: tuple[str, ...]) -> None:
        """CertificateRejected unless the key matches, the chain is complete and every name is on the certificate."""
        key = load_private_key(self.private_key_pem)
        if _public_bytes(key.public_key()) != _public_bytes(self.certificate.public_key()):
            raise CertificateRejected(f"certificate {self.serial}: its public key does not match the private key")
        if not self.chain:
            raise CertificateRejected(f"certificate {self.serial}: the CA returned no issuer chain")
        for child, parent in zip((self.certificate, *self.chain), self.chain, strict=False):
            try:
                child.verify_directly_issued_by(parent)
            except (ValueError, TypeError, InvalidSignature):
                raise CertificateRejected(
                    f"certificate {self.serial}: the chain is incomplete ({child.issuer.rfc4514_string()} "
                    f"did not sign it)"
                ) from None
        names = set(self.dns_names)
        missing = [d for d in domains if d not in names]
        if missing:
            raise CertificateRejected(f"certificate {self.serial}: names missing from the certificate: {missing}")

    @property
    def serial(self) -> str:
        """The certificate's serial number in lower-case hexadecimal."""
        return format(self.certificate.serial_number, "x")

    @property
    def not_before(self) -> datetime:
        """The start of the certificate's validity (UTC)."""
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        """The end of the certificate's validity (UTC)."""
        return self.certificate.not_valid_after_utc

    @property
    def dns_names(self) -> list[str]:
        """The DNS names of the certificate's subject alternative names."""
        try:
            san = self.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        return san.value.get_values_for_type(x509.DNSName)

    @property
    def certificate_pem(self) -> str:
        """The leaf certificate, PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def chain_pem(self) -> str:
        """The issuer chain, PEM, leaf excluded."""
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in self.chain)

    @property
    def fullchain_pem(self) -> str:
        """The leaf followed by its chain, PEM."""
        return self.certificate_pem + self.chain_pem
