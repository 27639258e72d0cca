"""Every bad certificate spec gets a clear error naming the field, a non-zero exit, and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from acmevault.composition.services import services

from tests.e2e.test_api_bad_input import PASTED_KEY, PASTED_SHORT_KEY

LONG_LABEL = "a" * 64

CASES = [
    # (label, argv after "cert put NAME", expected exit, text the message must contain)
    ("no domain", [], 2, "domains: is required"),
    ("empty domain", ["-d", ""], 2, "domains"),
    ("space in a name", ["-d", "exa mple.com"], 2, "not a valid domain name"),
    ("leading hyphen", ["--domain=-bad.example.com"], 2, "not a valid domain name"),
    ("empty label", ["-d", "a..example.com"], 2, "not a valid domain name"),
    ("label over 63", ["-d", f"{LONG_LABEL}.example.com"], 2, "not a valid domain name"),
    ("single label", ["-d", "localhost"], 2, "not a fully qualified domain name"),
    ("duplicate", ["-d", "a.example.com", "-d", "A.example.com"], 2, "listed twice"),
    ("IPv4", ["-d", "192.0.2.1"], 2, "IP address"),
    ("IPv6", ["-d", "[2001:db8::1]"], 2, "IP address"),
    ("unicode", ["-d", "exämple.com"], 2, "IDNA"),
    ("double wildcard", ["-d", "*.*.example.com"], 2, "wildcard"),
    ("wildcard inside", ["-d", "www.*.example.com"], 2, "wildcard"),
    ("101 names", [a for i in range(101) for a in ("-d", f"h{i}.example.com")], 2, "at most 100"),
    ("unknown key type", ["-d", "a.example.com", "--key-type", "dsa-1024"], 2, "key_type"),
    ("unknown challenge", ["-d", "a.example.com", "--challenge", "http-01"], 2, "challenge"),
    ("bad region", ["-d", "a.example.com", "--acm-region", "mars-1"], 2, "acm_regions"),
    ("bad zone id", ["-d", "a.example.com", "--hosted-zone-id", "zone;drop"], 2, "hosted_zone_id"),
    ("bad profile", ["-d", "a.example.com", "--profile", "a b"], 2, "profile"),
    ("role, not an ARN", ["-d", "a.example.com", "--route53-role-arn", "dns-writer"], 2, "route53_role_arn"),
    (
        "user ARN, not a role",
        ["-d", "a.example.com", "--route53-role-arn", "arn:aws:iam::210987654321:user/x"],
        2,
        "not an IAM role ARN",
    ),
    (
        "short account id",
        ["-d", "a.example.com", "--route53-role-arn", "arn:aws:iam::2109:role/x"],
        2,
        "route53_role_arn",
    ),
]


@pytest.mark.parametrize(("label", "argv", "code", "text"), CASES, ids=[c[0] for c in CASES])
def test_bad_spec_is_refused_and_changes_nothing(cli, directory, state, unique, label, argv, code, text):
    before = state()
    result = cli("cert", "put", f"bad-{unique}", *argv, "--directory", directory)
    assert result.code == code, (label, result.err)
    assert text in result.err, (label, result.err)
    assert state() == before


# What a user found passing: each is refused, names its field, and nothing is stored or ordered.
REPORTED = [
    # (label, NAME ({} is a unique token), argv after NAME, the field the message names)
    ("name and newline", "web-{}\n", ["-d", "web.example.com"], "name"),
    ("domain and newline", "web-{}", ["-d", "www.example.com\n"], "domains"),
    ("bare name and newline", "web-{}", ["-d", "web\n"], "domains"),
    ("region and newline", "web-{}", ["-d", "web.example.com", "--acm-region", "us-east-1\n"], "acm_regions"),
    ("Arabic-Indic digit", "web-{}", ["-d", "web.example.com", "--acm-region", "us-east-\u0661"], "acm_regions"),
    ("zone id and newline", "web-{}", ["-d", "web.example.com", "--hosted-zone-id", "Z1\n"], "hosted_zone_id"),
    ("invalid A-label", "web-{}", ["-d", "xn--zz.example.com"], "domains"),
    ("-- in positions 3-4", "web-{}", ["-d", "ab--cd.example.com"], "domains"),
    ("numeric TLD", "web-{}", ["-d", "example.123"], "domains"),
    ("profile and newline", "web-{}", ["-d", "web.example.com", "--profile", "p\n"], "profile"),
    (
        "role ARN and newline",
        "web-{}",
        ["-d", "web.example.com", "--route53-role-arn", "arn:aws:iam::210987654321:role/x\n"],
        "route53_role_arn",
    ),
]


def _orders(directory: str) -> int:
    """The directory's ACME orders as Pebble lists them."""
    return len(services().accounts.session(directory).order_urls())


@pytest.mark.parametrize(("label", "name", "argv", "field"), REPORTED, ids=[r[0] for r in REPORTED])
def test_reported_inputs_are_refused_and_nothing_is_stored_or_ordered(
    cli: Any, directory: str, state: Any, unique: str, label: str, name: str, argv: list[str], field: str
) -> None:
    name = name.format(unique)
    before, orders = state(), _orders(directory)
    result = cli("cert", "put", name, *argv, "--directory", directory)
    assert result.code == 2, (label, result.err)
    # one line: 'acmevault: cert put[ NAME]: FIELD: ...' (the NAME only when it is a valid one)
    assert result.err.count("\n") == 1, (label, result.err)
    assert result.err.startswith("acmevault: cert put") and f": {field}: " in result.err, (label, result.err)
    # the worker's path: nothing to issue, so no order at the CA and no import into ACM
    issued = cli("cert", "issue", name.strip(), "--timeout", "30")
    assert issued.code != 0 and "does not exist" in issued.err, issued.err
    assert state() == before
    assert _orders(directory) == orders


@pytest.mark.parametrize("name", ["web\n", "web\r", "web ", "\u0669eb"])
@pytest.mark.parametrize("verb", ["show", "issue", "delete"])
def test_every_name_argument_is_checked_before_it_is_looked_up(cli, state, verb, name):
    before = state()
    result = cli("cert", verb, name)
    assert result.code == 2 and result.err.startswith(f"acmevault: cert {verb}: name: "), result.err
    assert result.err.count("\n") == 1, result.err
    assert state() == before


@pytest.mark.parametrize("secret", [PASTED_KEY, PASTED_SHORT_KEY])
@pytest.mark.parametrize("shape", ["{}", "--{}", "--{}=x"])
def test_an_unrecognised_argument_is_never_echoed(cli, directory, state, unique, secret, shape):
    before = state()
    argument = shape.format(secret)
    result = cli("cert", "put", f"c-{unique}", "-d", "a.example.com", "--directory", directory, argument)
    assert result.code == 2
    assert "1 unrecognised argument(s): <an argument of" in result.err, result.err
    assert secret not in result.out + result.err  # the cli fixture's scanner checks it too
    assert state() == before


def test_a_mistyped_option_is_named(cli, directory, state, unique):
    before = state()
    result = cli("cert", "put", f"c-{unique}", "--domian=a.example.com", "--directory", directory)
    assert result.code == 2 and "unrecognised argument(s): '--domian'" in result.err, result.err
    assert state() == before


@pytest.mark.parametrize("name", ["Web", "-web", "web_1", "../etc", "a" * 64, "wéb"])
def test_bad_certificate_names_are_refused(cli, directory, state, name):
    before = state()
    result = cli("cert", "put", "-d", "a.example.com", "--directory", directory, "--", name)
    assert result.code == 2 and "not a valid name" in result.err
    assert state() == before


def test_a_certificate_pointing_at_a_missing_directory_is_refused(cli, state, unique):
    before = state()
    result = cli("cert", "put", f"c-{unique}", "-d", "a.example.com", "--directory", f"missing-{unique}")
    assert result.code == 1
    assert f"directory 'missing-{unique}' does not exist" in result.err
    assert state() == before


@pytest.mark.parametrize("verb", ["issue", "renew", "show", "delete"])
def test_verbs_on_a_missing_certificate_say_so(cli, state, unique, verb):
    before = state()
    result = cli("cert", verb, f"nope-{unique}")
    assert result.code == 1 and f"certificate 'nope-{unique}' does not exist" in result.err
    assert state() == before


def test_renew_without_due_is_a_usage_error(cli):
    result = cli("renew")
    assert result.code == 2 and "--due" in result.err


@pytest.mark.parametrize("value", ["\u0661\u0660", "nan", "inf", "1e3", "-5", "0", "10\n"])
@pytest.mark.parametrize("argv", [["cert", "issue", "web", "--timeout"], ["renew", "--due", "--timeout"]])
def test_a_timeout_is_ascii_seconds(cli, state, argv, value):
    before = state()
    result = cli(*argv, value)
    assert result.code == 2 and "must be a number of seconds" in result.err, result.err
    assert state() == before


@pytest.mark.parametrize("value", ["\u0668", "0", "nan", "8\n"])
def test_workers_is_an_ascii_count(cli, state, value):
    before = state()
    result = cli("renew", "--due", "--workers", value)
    assert result.code == 2 and "must be a whole number" in result.err, result.err
    assert state() == before
