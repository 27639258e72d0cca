"""The SXG checker with certificates the tests sign themselves (Pebble cannot issue SXG certificates)."""

from __future__ import annotations

import pytest
from acmevault.app.sxg import _allows_sxg, check_certificate, check_spec
from acmevault.domain.certificate import CertificateSpec, KeyType
from acmevault.domain.errors import CertificateRejected, ValidationError
from acmevault.domain.keys import CertificateBundle, generate_private_key, private_key_pem
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.sxg_ca import SxgCa

DOMAINS = ["sxg.example.com", "www.sxg.example.com"]


def bundle(ca: SxgCa, key_type: KeyType = KeyType.EC_P256, **issue: object) -> CertificateBundle:
    key = generate_private_key(key_type)
    leaf = ca.issue(DOMAINS, key.public_key(), **issue)  # type: ignore[arg-type]
    return CertificateBundle.from_fullchain(ca.fullchain(leaf), private_key_pem(key), tuple(DOMAINS))


@pytest.fixture(scope="module")
def ca() -> SxgCa:
    return SxgCa()


def test_an_ec_p256_certificate_of_90_days_with_the_extension_passes(ca):
    check_certificate(bundle(ca))  # no exception: it may be delivered


def test_a_certificate_without_the_extension_is_refused_naming_it(ca):
    with pytest.raises(CertificateRejected) as refused:
        check_certificate(bundle(ca, sxg=False))
    assert "CanSignHttpExchanges" in refused.value.message
    assert "1.3.6.1.4.1.11129.2.1.22" in refused.value.message
    assert "not delivered" in refused.value.message


def test_a_certificate_longer_than_90_days_is_refused(ca):
    with pytest.raises(CertificateRejected, match="at most 90 days"):
        check_certificate(bundle(ca, days=91))


def test_a_certificate_with_another_key_type_is_refused(ca):
    with pytest.raises(CertificateRejected, match="EC P-256"):
        check_certificate(bundle(ca, KeyType.EC_P384))
    with pytest.raises(CertificateRejected, match="EC P-256"):
        check_certificate(bundle(ca, KeyType.RSA_2048))


def test_a_resigned_leaf_keeps_names_key_serial_and_dates_and_gains_the_extension(ca):
    pebble_like = SxgCa(name=SxgCa().name)
    key = ec.generate_private_key(ec.SECP256R1())
    original = pebble_like.issue(DOMAINS, key.public_key(), sxg=False)
    resigned = CertificateBundle.from_fullchain(
        ca.resign(pebble_like.fullchain(original)), private_key_pem(key), tuple(DOMAINS)
    )
    check_certificate(resigned)
    assert resigned.certificate.serial_number == original.serial_number
    assert resigned.not_after == original.not_valid_after_utc


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"key_type": "rsa-2048"}, "key_type"),
        ({"key_type": "ec-p384"}, "key_type"),
        ({"acm_regions": ["us-east-1"]}, "acm_regions"),
    ],
)
def test_a_spec_an_sxg_directory_cannot_serve_is_refused_naming_the_field(spec, field):
    parsed = CertificateSpec.parse("sxg", {"domains": DOMAINS, "directory": "sxg-dir", **spec})
    with pytest.raises(ValidationError) as refused:
        check_spec(parsed)
    assert refused.value.field == field
    if field == "acm_regions":
        assert "ACM" in refused.value.message and "S3 only" in refused.value.message


@pytest.mark.parametrize(
    ("value", "tag", "allowed"),
    [
        ('0 issue "digicert.com; cansignhttpexchanges=yes"', "issue", True),
        ('0 issue "digicert.com;cansignhttpexchanges=YES"', "issue", True),
        ('0 issue "digicert.com"', "issue", False),
        ('0 issue "digicert.com; cansignhttpexchanges=no"', "issue", False),
        ('0 issuewild "digicert.com; cansignhttpexchanges=yes"', "issue", False),
        ('0 issuewild "digicert.com; cansignhttpexchanges=yes"', "issuewild", True),
        ('0 iodef "mailto:security@example.com"', "issue", False),
    ],
)
def test_caa_values_allow_sxg_only_with_the_parameter_on_the_right_tag(value, tag, allowed):
    assert _allows_sxg(value, tag) is allowed
