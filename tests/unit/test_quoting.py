"""Untrusted input quoted back in errors: enough to find the mistake, never a pasted key."""

import pytest
from acmevault.domain.certificate import CertificateSpec
from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import ValidationError
from acmevault.domain.quoting import argument_label, field_label, quoted

KEY = "Xq3vR9tLmW2pZ8sKdY6hN4bJfC7gT1uAeVoIiQ5rSx0"


def test_a_mistyped_field_is_named_and_a_pasted_key_is_not():
    assert field_label("domain") == "domain"
    assert field_label(KEY) == f"<unknown field, {len(KEY)} characters>"
    assert (
        field_label("QvRtLmWpZsKdYhNbJfCgTu") == "<unknown field, 22 characters>"
    )  # no digit: upper case gives it away
    assert field_label("line\nbreak") == "<unknown field, 10 characters>"
    assert field_label("x" * 33) == "<unknown field, 33 characters>"


def test_values_are_escaped_cut_short_and_keys_described_by_length():
    assert quoted("web\n") == "'web\\n'"
    assert quoted("a" * 100) == f"{'a' * 64!r}… (100 characters)"
    assert quoted(KEY) == f"a value of {len(KEY)} characters"


def test_an_argument_is_named_without_its_value():
    assert argument_label("--domian=a.example.com") == "'--domian'"
    assert argument_label(f"--domain={KEY}") == "'--domain'"
    assert argument_label(KEY) == f"<an argument of {len(KEY)} characters>"


@pytest.mark.parametrize(
    "parse",
    [
        lambda: CertificateSpec.parse("web", {"domains": ["a.example.com"], "directory": "d", KEY: 1}),
        lambda: DirectoryCredential.parse({"directory_url": "https://ca.example/dir", KEY: 1}),
        lambda: DirectoryCredential.from_secret({"directory_url": "https://ca.example/dir", KEY: 1}),
    ],
    ids=["spec", "credential", "secret"],
)
def test_model_parsers_never_echo_an_unknown_field_name(parse):
    with pytest.raises(ValidationError) as raised:
        parse()
    assert KEY not in str(raised.value) and KEY not in raised.value.field
    assert raised.value.field == f"<unknown field, {len(KEY)} characters>"
