"""Validation and renewal timing: pure functions, no network."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from acmevault.domain.certificate import CertificateSpec, KeyType, default_renew_at
from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import ValidationError
from acmevault.domain.validation import validate_domain, validate_region

HMAC = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"  # a Pebble example key


def test_credential_repr_hides_the_hmac_and_account_key():
    credential = DirectoryCredential("https://ca.example/dir", "kid", HMAC, account_key="-----BEGIN PRIVATE KEY-----")
    assert HMAC not in repr(credential) and "PRIVATE" not in repr(credential)
    assert HMAC not in str(credential.public_view())


def test_credential_round_trips_through_the_secret_json():
    credential = DirectoryCredential(
        "https://ca.example/dir", "kid", HMAC, "HS384", ("mailto:ops@example.com",), "key", "https://ca.example/acct/1"
    )
    assert DirectoryCredential.from_secret(credential.to_secret()) == credential


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"directory_url": "http://ca.example/dir"}, "directory_url"),
        ({"directory_url": "https://user:pw@ca.example/dir"}, "directory_url"),
        ({"eab_hmac_key": None}, "eab_hmac_key"),
        ({"eab_hmac_key": "abc+/"}, "eab_hmac_key"),
        ({"eab_hmac_alg": "HS1"}, "eab_hmac_alg"),
        ({"eab_kid": ""}, "eab_kid"),
        ({"contact": ("ops@example.com",)}, "contact"),
    ],
)
def test_bad_credentials_name_the_field_and_never_quote_the_hmac(changes, field):
    values = {"directory_url": "https://ca.example/dir", "eab_kid": "kid", "eab_hmac_key": HMAC, **changes}
    with pytest.raises(ValidationError) as raised:
        DirectoryCredential(**values)
    assert raised.value.field == field
    assert HMAC not in str(raised.value)


def test_an_unknown_field_in_a_secret_is_refused():
    with pytest.raises(ValidationError, match="hmac"):
        DirectoryCredential.from_secret({"directory_url": "https://ca.example/dir", "hmac": "x"})


def test_spec_defaults_and_normalisation():
    spec = CertificateSpec.parse("web", {"domains": ["WWW.Example.com.", "*.example.com"], "directory": "dc"})
    assert spec.domains == ("www.example.com", "*.example.com")
    assert spec.key_type is KeyType.EC_P256 and spec.challenge.value == "auto"


def test_spec_rejects_unknown_fields_by_name():
    with pytest.raises(ValidationError) as raised:
        CertificateSpec.parse("web", {"domains": ["a.example.com"], "directory": "dc", "keytype": "rsa-2048"})
    assert raised.value.field == "keytype"


@pytest.mark.parametrize(
    ("lifetime_days", "remaining_fraction"),
    [(6, 1 / 2), (47, 1 / 3), (90, 1 / 3), (200, 1 / 3), (365, 1 / 3)],
)
def test_renewal_is_a_fraction_of_the_lifetime(lifetime_days, remaining_fraction):
    not_before = datetime(2026, 1, 1, tzinfo=UTC)
    not_after = not_before + timedelta(days=lifetime_days)
    renew_at = default_renew_at(not_before, not_after)
    assert not_after - renew_at == timedelta(days=lifetime_days) * remaining_fraction
    # a renewed certificate is never due at once: no loop, whatever the lifetime
    assert renew_at > not_before


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::210987654321:role/acmevault-dns01",
        "arn:aws:iam::210987654321:role/dns/writers/acmevault",
        "arn:aws-us-gov:iam::210987654321:role/dns+writer=@,.-_",
    ],
)
def test_a_route53_role_arn_is_kept_and_round_trips(arn):
    spec = CertificateSpec.parse("web", {"domains": ["a.example.com"], "directory": "dc", "route53_role_arn": arn})
    assert spec.route53_role_arn == arn
    assert CertificateSpec.parse("web", spec.to_dict()) == spec


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "acmevault-dns01",
        "arn:aws:iam::210987654321:user/someone",
        "arn:aws:iam::21098765432:role/short-account",
        "arn:aws:sts::210987654321:assumed-role/x/y",
        "arn:aws:iam::210987654321:role/",
        "arn:aws:iam::210987654321:role/sp ace",
        42,
    ],
)
def test_anything_but_an_iam_role_arn_is_refused_by_name(arn):
    with pytest.raises(ValidationError) as raised:
        CertificateSpec.parse("web", {"domains": ["a.example.com"], "directory": "dc", "route53_role_arn": arn})
    assert raised.value.field == "route53_role_arn"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("xn--bcher-kva.example.com", "xn--bcher-kva.example.com"),  # bücher
        ("XN--BCHER-KVA.Example.com.", "xn--bcher-kva.example.com"),
        ("123.example.com", "123.example.com"),  # a numeric label below the top is fine
        ("*.xn--80ak6aa92e.example", "*.xn--80ak6aa92e.example"),
        ("a-b.example.co", "a-b.example.co"),
    ],
)
def test_valid_names_are_kept(given, kept):
    assert validate_domain(given) == kept


@pytest.mark.parametrize(
    ("given", "text"),
    [
        ("xn--zz.example.com", "not a valid IDNA A-label"),
        ("xn--ls8h.example.com", "not a valid IDNA A-label"),  # a code point IDNA 2008 disallows
        ("ab--cd.example.com", "positions 3-4"),
        ("example.123", "all digits"),
        ("www.example.com\n", "label 'com\\n'"),
        ("example.com..", "label ''"),
    ],
)
def test_invalid_names_are_refused(given, text):
    with pytest.raises(ValidationError, match=re.escape(text)):
        validate_domain(given)


@pytest.mark.parametrize("region", ["us-east-1\n", "us-east-\u0661", "us-east-1 ", "US-EAST-1"])
def test_region_names_are_ascii_and_whole(region):
    with pytest.raises(ValidationError):
        validate_region(region)


def test_the_stacks_acm_regions_are_checked_like_a_specs():
    from acmevault.composition.config import Settings

    env = {"AWS_REGION": "us-east-1", "ACMEVAULT_TABLE": "t", "ACMEVAULT_BUCKET": "b"}
    assert Settings.from_env({**env, "ACMEVAULT_ACM_REGIONS": "us-east-1, eu-west-1"}).acm_regions == (
        "us-east-1",
        "eu-west-1",
    )
    with pytest.raises(ValidationError, match="ACMEVAULT_ACM_REGIONS"):
        Settings.from_env({**env, "ACMEVAULT_ACM_REGIONS": "us-east-\u0661"})
