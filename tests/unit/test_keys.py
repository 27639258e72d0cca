"""The checks a bundle passes before it is pushed anywhere (ACM refuses a mismatch; moto does not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from acmevault.domain.certificate import KeyType
from acmevault.domain.errors import CertificateRejected
from acmevault.domain.keys import CertificateBundle, build_csr, generate_private_key, private_key_pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, key, issuer: str, issuer_key, names=(), ca=False) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=90))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


@pytest.fixture
def chain():
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = generate_private_key(KeyType.EC_P256)
    inter = _cert("Intermediate", inter_key, "Root", root_key, ca=True)
    leaf = _cert("a.example.com", leaf_key, "Intermediate", inter_key, names=("a.example.com",))
    return leaf, inter, leaf_key


def test_a_good_bundle_passes(chain):
    leaf, inter, key = chain
    bundle = CertificateBundle.from_fullchain(_pem(leaf, inter), private_key_pem(key), ("a.example.com",))
    assert bundle.fullchain_pem == _pem(leaf, inter)
    assert "PRIVATE" not in repr(bundle)


def test_a_key_that_does_not_match_is_refused(chain):
    leaf, inter, _ = chain
    other = private_key_pem(generate_private_key(KeyType.EC_P256))
    with pytest.raises(CertificateRejected, match="does not match"):
        CertificateBundle.from_fullchain(_pem(leaf, inter), other, ("a.example.com",))


def test_a_missing_chain_is_refused(chain):
    leaf, _, key = chain
    with pytest.raises(CertificateRejected, match="no issuer chain"):
        CertificateBundle.from_fullchain(_pem(leaf), private_key_pem(key), ("a.example.com",))


def test_a_chain_that_did_not_sign_the_certificate_is_refused(chain):
    leaf, _, key = chain
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _cert("Intermediate", stranger_key, "Root", stranger_key, ca=True)
    with pytest.raises(CertificateRejected, match="incomplete"):
        CertificateBundle.from_fullchain(_pem(leaf, stranger), private_key_pem(key), ("a.example.com",))


def test_names_missing_from_the_certificate_are_refused(chain):
    leaf, inter, key = chain
    with pytest.raises(CertificateRejected, match=r"b\.example\.com"):
        CertificateBundle.from_fullchain(_pem(leaf, inter), private_key_pem(key), ("a.example.com", "b.example.com"))


def test_csr_has_the_first_name_as_cn_and_all_as_sans():
    key = generate_private_key(KeyType.EC_P384)
    csr = x509.load_pem_x509_csr(build_csr(key, ("a.example.com", "*.b.example.com")))
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a.example.com"
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["a.example.com", "*.b.example.com"]
