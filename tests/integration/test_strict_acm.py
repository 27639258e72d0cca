"""The local stack's ACM refuses what real ACM refuses (acmevault_cli.local.acm in front of moto), through boto3.

Each rule: a good import or re-import passes, the bad one is refused with ValidationException and
the message ACM gives, and the certificate at the ARN is left as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER, CLIENT = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
_CA_KEY = ec.generate_private_key(ec.SECP256R1())
_CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "strict ACM test CA")])
_KEYS: dict[str, Any] = {}


def key(kind: str) -> Any:
    """One key per kind for the module (RSA keys are slow to make)."""
    if kind not in _KEYS:
        makers = {
            "ec-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
            "ec-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
            "rsa-2048": lambda: rsa.generate_private_key(65537, 2048),
            "rsa-3072": lambda: rsa.generate_private_key(65537, 3072),
            "ed25519": ed25519.Ed25519PrivateKey.generate,
        }
        _KEYS[kind] = makers[kind]()
    return _KEYS[kind]


def certificate(
    private_key: Any,
    *,
    usages: Iterable[str] = ("digital_signature",),
    extended: Iterable[x509.ObjectIdentifier] = (SERVER, CLIENT),
    valid_from: timedelta = timedelta(minutes=-5),
    valid_for: timedelta = timedelta(days=30),
) -> bytes:
    now = datetime.now(UTC)
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(dict.fromkeys(usages, True))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "strict.example.com")]))
        .issuer_name(_CA_NAME)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + valid_from)
        .not_valid_after(now + valid_from + valid_for)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("strict.example.com")]), critical=False)
        .add_extension(x509.KeyUsage(**flags), critical=True)
    )
    extended = list(extended)
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    return builder.sign(_CA_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def pem(private_key: Any) -> bytes:
    return bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


@pytest.fixture
def acm(stack: Any) -> Any:
    return stack.aws("acm")


@pytest.fixture
def imported(acm: Any) -> Any:
    """Import a certificate (EC P-256, digitalSignature + keyEncipherment, serverAuth + clientAuth) and
    return its ARN; the certificate it holds is checked unchanged after each refusal."""

    def make(kind: str = "ec-p256", usages: Iterable[str] = ("digital_signature", "key_encipherment")) -> str:
        answer = acm.import_certificate(
            Certificate=certificate(key(kind), usages=usages),
            PrivateKey=pem(key(kind)),
            Tags=[{"Key": "acmevault:test", "Value": "strict"}],
        )
        return str(answer["CertificateArn"])

    return make


def refused(acm: Any, message: str, **request: Any) -> None:
    """The import is refused as ACM refuses it, and what the ARN holds (if one is given) is unchanged."""
    arn = request.get("CertificateArn")
    before = acm.get_certificate(CertificateArn=arn)["Certificate"] if arn else None
    with pytest.raises(ClientError) as raised:
        acm.import_certificate(**request)
    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "ValidationException", error
    assert message in error["Message"], error
    if arn:
        assert acm.get_certificate(CertificateArn=arn)["Certificate"] == before


def test_a_good_reimport_passes_and_keeps_the_arn(acm, imported):
    arn = imported()
    new = certificate(key("ec-p256"), usages=("digital_signature", "key_encipherment"))
    assert acm.import_certificate(CertificateArn=arn, Certificate=new, PrivateKey=pem(key("ec-p256")))[
        "CertificateArn"
    ] == (arn)
    assert acm.get_certificate(CertificateArn=arn)["Certificate"].encode().strip() == new.strip()


def test_tags_on_a_reimport_are_refused(acm, imported):
    arn = imported()
    refused(
        acm,
        "Tagging is not permitted on re-import.",
        CertificateArn=arn,
        Certificate=certificate(key("ec-p256"), usages=("digital_signature", "key_encipherment")),
        PrivateKey=pem(key("ec-p256")),
        Tags=[{"Key": "acmevault:certificate", "Value": "web"}],
    )


@pytest.mark.parametrize(("was", "now"), [("ec-p256", "rsa-2048"), ("ec-p256", "ec-p384"), ("rsa-2048", "rsa-3072")])
def test_a_reimport_cannot_change_the_key_type_or_size(acm, imported, was, now):
    arn = imported(was)
    refused(
        acm,
        "The key algorithm and size cannot change on re-import.",
        CertificateArn=arn,
        Certificate=certificate(key(now), usages=("digital_signature", "key_encipherment")),
        PrivateKey=pem(key(now)),
    )


def test_a_reimport_cannot_drop_a_key_usage(acm, imported):
    arn = imported("rsa-2048", usages=("digital_signature", "key_encipherment"))
    refused(
        acm,
        "lacks Key Usage value(s) of the certificate it replaces: keyEncipherment",
        CertificateArn=arn,
        Certificate=certificate(key("rsa-2048"), usages=("digital_signature",)),
        PrivateKey=pem(key("rsa-2048")),
    )


def test_an_ec_reimport_may_drop_key_encipherment(acm, imported):
    arn = imported("ec-p256", usages=("digital_signature", "key_encipherment"))
    new = certificate(key("ec-p256"), usages=("digital_signature",))
    assert acm.import_certificate(CertificateArn=arn, Certificate=new, PrivateKey=pem(key("ec-p256")))
    refused(  # but not digitalSignature
        acm,
        "lacks Key Usage value(s) of the certificate it replaces: digitalSignature",
        CertificateArn=arn,
        Certificate=certificate(key("ec-p256"), usages=("key_agreement",)),
        PrivateKey=pem(key("ec-p256")),
    )


def test_a_reimport_cannot_drop_server_auth_but_may_drop_client_auth(acm, imported):
    arn = imported()
    usages = ("digital_signature", "key_encipherment")
    refused(
        acm,
        "lacks Extended Key Usage value(s) of the certificate it replaces: serverAuth",
        CertificateArn=arn,
        Certificate=certificate(key("ec-p256"), usages=usages, extended=(CLIENT,)),
        PrivateKey=pem(key("ec-p256")),
    )
    new = certificate(key("ec-p256"), usages=usages, extended=(SERVER,))
    assert acm.import_certificate(CertificateArn=arn, Certificate=new, PrivateKey=pem(key("ec-p256")))


@pytest.mark.parametrize(
    ("valid_from", "valid_for"),
    [(timedelta(days=-31), timedelta(days=30)), (timedelta(hours=1), timedelta(days=30))],
    ids=["expired", "not yet valid"],
)
def test_a_certificate_not_valid_now_is_refused(acm, imported, valid_from, valid_for):
    bad = certificate(key("ec-p256"), valid_from=valid_from, valid_for=valid_for)
    refused(acm, "The certificate is not valid now", Certificate=bad, PrivateKey=pem(key("ec-p256")))
    arn = imported()
    refused(acm, "is not valid now", CertificateArn=arn, Certificate=bad, PrivateKey=pem(key("ec-p256")))


def test_a_private_key_over_5_kb_is_refused(acm, imported):
    arn = imported("rsa-2048")
    # text before the PEM block still parses; ACM counts the bytes sent
    padded = b"# padding\n" * 400 + pem(key("rsa-2048"))
    cert = certificate(key("rsa-2048"), usages=("digital_signature", "key_encipherment"))
    refused(acm, "the maximum is 5120 bytes", Certificate=cert, PrivateKey=padded)
    refused(acm, "the maximum is 5120 bytes", CertificateArn=arn, Certificate=cert, PrivateKey=padded)


def test_a_key_that_does_not_match_the_certificate_is_refused(acm, imported):
    arn = imported()
    other = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(key("ec-p256"), usages=("digital_signature", "key_encipherment"))
    message = "The private key does not match the public key in the certificate."
    refused(acm, message, Certificate=cert, PrivateKey=pem(other))
    refused(acm, message, CertificateArn=arn, Certificate=cert, PrivateKey=pem(other))


def test_a_key_type_acm_does_not_import_is_refused(acm):
    refused(
        acm,
        "The private key is not supported",
        Certificate=certificate(key("ed25519")),
        PrivateKey=pem(key("ed25519")),
    )


def test_two_certificates_in_the_certificate_field_are_refused(acm):
    both = certificate(key("ec-p256")) + certificate(key("ec-p256"))
    refused(acm, "contains more than one certificate", Certificate=both, PrivateKey=pem(key("ec-p256")))


def test_a_refused_import_creates_nothing(acm):
    listed = {"keyTypes": ["EC_prime256v1", "EC_secp384r1", "RSA_2048", "RSA_3072", "RSA_4096"]}
    before = acm.list_certificates(Includes=listed)["CertificateSummaryList"]
    other = ec.generate_private_key(ec.SECP256R1())
    refused(acm, "does not match", Certificate=certificate(key("ec-p256")), PrivateKey=pem(other))
    assert acm.list_certificates(Includes=listed)["CertificateSummaryList"] == before
