"""Every bad certificate spec gets a clear error naming the field, a non-zero exit, and changes nothing."""

from __future__ import annotations

import pytest

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
