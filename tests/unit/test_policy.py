"""The directory policy's matching rules (acmevault.domain.policy): pure functions, no network."""

from __future__ import annotations

import pytest
from acmevault.domain.errors import ValidationError
from acmevault.domain.policy import (
    DirectoryPolicy,
    domain_allowed,
    principal_allowed,
    principal_matches,
    role_of,
    validate_principal_pattern,
)

ACCOUNT = "123456789012"
TEAM_A_ROLE = f"arn:aws:iam::{ACCOUNT}:role/team-a-deploy"
TEAM_A_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/team-a-deploy/alice@example.com"

# -- names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "allowed", "expected"),
    [
        ("team-a.example.com", ["team-a.example.com"], True),  # equal
        ("www.team-a.example.com", ["team-a.example.com"], True),  # under
        ("a.b.c.team-a.example.com", ["team-a.example.com"], True),  # deep under
        ("*.team-a.example.com", ["team-a.example.com"], True),  # a wildcard counts as its base
        ("team-a.example.com", ["*.team-a.example.com"], True),  # an allowed wildcard counts as its base
        ("x.team-a.example.com", ["*.team-a.example.com"], True),
        ("*.x.team-a.example.com", ["*.team-a.example.com"], True),
        ("TEAM-A.Example.COM.", ["team-a.example.com"], True),  # case and a trailing dot do not matter
        ("team-a.example.com.evil.net", ["team-a.example.com"], False),  # look-alike: a suffix after it
        ("xteam-a.example.com", ["team-a.example.com"], False),  # look-alike: not a label boundary
        ("team-a-example.com", ["team-a.example.com"], False),
        ("example.com", ["team-a.example.com"], False),  # the parent is not under the child
        ("*.example.com", ["team-a.example.com"], False),  # nor the parent's wildcard
        ("team-b.example.com", ["team-a.example.com"], False),
        ("www.team-b.example.com", ["team-a.example.com", "team-b.example.com"], True),  # any entry
        ("team-a.example.com", [], False),  # no entry: nothing is under it
    ],
)
def test_a_name_is_allowed_when_it_equals_or_lies_under_an_allowed_domain(domain, allowed, expected):
    assert domain_allowed(domain, allowed) is expected


def test_a_policy_without_allowed_domains_restricts_no_names():
    assert DirectoryPolicy(allowed_principals=(TEAM_A_ROLE,)).allows_domain("anything.example.net")
    restricted = DirectoryPolicy(allowed_domains=("team-a.example.com",))
    assert restricted.allows_domain("www.team-a.example.com")
    assert not restricted.allows_domain("team-a.example.com.evil.net")


# -- principals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "role"),
    [
        (TEAM_A_SESSION, TEAM_A_ROLE),
        (f"arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/r/s", f"arn:aws-us-gov:iam::{ACCOUNT}:role/r"),
        (f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/r/s", f"arn:aws-cn:iam::{ACCOUNT}:role/r"),
        (TEAM_A_ROLE, None),  # already a role
        (f"arn:aws:iam::{ACCOUNT}:user/bob", None),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/bob", None),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/only-a-role", None),  # no session: not a session ARN
    ],
)
def test_an_assumed_role_session_acts_as_its_role(arn, role):
    assert role_of(arn) == role


@pytest.mark.parametrize(
    ("arn", "pattern", "expected"),
    [
        (TEAM_A_ROLE, TEAM_A_ROLE, True),  # exact
        (TEAM_A_SESSION, TEAM_A_ROLE, True),  # a session matches as its role
        (TEAM_A_SESSION, f"arn:aws:iam::{ACCOUNT}:role/team-a-*", True),  # fnmatch
        (TEAM_A_SESSION, f"arn:aws:sts::{ACCOUNT}:assumed-role/team-a-deploy/*", True),  # the session itself
        (TEAM_A_SESSION, f"arn:aws:sts::{ACCOUNT}:assumed-role/team-a-deploy/bob*", False),
        (TEAM_A_SESSION, f"arn:aws:iam::{ACCOUNT}:role/team-b-*", False),
        (TEAM_A_SESSION, f"arn:aws:iam::{ACCOUNT}:role/Team-A-*", False),  # case-sensitive, as IAM ARNs are
        (TEAM_A_SESSION, "arn:aws:iam::210987654321:role/team-a-*", False),  # another account
        (TEAM_A_SESSION, f"arn:aws:iam::{ACCOUNT}:role/teams/team-a-deploy", True),  # a path: a session has none
        (f"arn:aws:iam::{ACCOUNT}:role/x-team-a-deploy", f"arn:aws:iam::{ACCOUNT}:role/team-a-*", False),
        (f"arn:aws:iam::{ACCOUNT}:user/team-a-deploy", f"arn:aws:iam::{ACCOUNT}:role/team-a-*", False),  # a user
        (f"arn:aws:iam::{ACCOUNT}:user/ops/bob", f"arn:aws:iam::{ACCOUNT}:user/ops/*", True),  # users keep paths
        (f"arn:aws:iam::{ACCOUNT}:user/bob", f"arn:aws:iam::{ACCOUNT}:user/ops/*", False),
        (f"arn:aws:iam::{ACCOUNT}:user/bob", f"arn:aws:iam::{ACCOUNT}:user/bob", True),
        (f"arn:aws:iam::{ACCOUNT}:user/bobby", f"arn:aws:iam::{ACCOUNT}:user/bob", False),  # exact is exact
        (f"arn:aws:sts::{ACCOUNT}:federated-user/bob", f"arn:aws:iam::{ACCOUNT}:user/bob", False),
    ],
)
def test_principal_patterns_match_the_callers_arn_or_its_role(arn, pattern, expected):
    assert principal_matches(arn, pattern) is expected


def test_a_principal_is_allowed_by_any_of_the_patterns_and_by_none_when_there_are_none():
    patterns = [f"arn:aws:iam::{ACCOUNT}:role/team-b-*", TEAM_A_ROLE]
    assert principal_allowed(TEAM_A_SESSION, patterns)
    assert not principal_allowed(TEAM_A_SESSION, [])
    assert not DirectoryPolicy(allowed_domains=("team-a.example.com",)).allows_principal(TEAM_A_SESSION)


@pytest.mark.parametrize(
    "pattern",
    [
        "*",  # everyone
        "arn:aws:iam::*:role/team-a",  # any account
        f"arn:aws:iam::{ACCOUNT}",  # nothing after the account
        f"arn:aws:s3:::{ACCOUNT}:bucket",  # not IAM or STS
        f"arn:aws:iam::{ACCOUNT}:role/team a",  # a space
        f"arn:aws:iam::{ACCOUNT}:role/teams/*",  # a wildcard path: sessions carry no path
        "",
        42,
        None,
    ],
)
def test_a_pattern_that_is_not_an_iam_principal_of_one_account_is_refused(pattern):
    with pytest.raises(ValidationError) as refused:
        validate_principal_pattern(pattern)
    assert refused.value.field == "allowed_principals"


# -- the policy document ---------------------------------------------------------------------------


def test_a_policy_is_parsed_normalised_and_round_trips():
    policy = DirectoryPolicy.parse(
        {
            "allowed_domains": ["Team-A.Example.com.", "team-a.example.com", "*.team-b.example.com"],
            "allowed_principals": [TEAM_A_ROLE, TEAM_A_ROLE],
        }
    )
    assert policy.allowed_domains == ("team-a.example.com", "*.team-b.example.com")
    assert policy.allowed_principals == (TEAM_A_ROLE,)
    assert DirectoryPolicy.parse(policy.to_dict()) == policy
    assert DirectoryPolicy.parse({}) == DirectoryPolicy()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"allowed_domains": "example.com"}, "allowed_domains"),  # a string, not a list
        ({"allowed_domains": ["not a domain"]}, "allowed_domains"),
        ({"allowed_domains": ["192.0.2.1"]}, "allowed_domains"),
        ({"allowed_domains": ["a.example.com"] * 101}, "allowed_domains"),
        ({"allowed_principals": ["*"]}, "allowed_principals"),
        ({"allowed_principals": {"a": 1}}, "allowed_principals"),
        ({"allowed_principal": [TEAM_A_ROLE]}, "allowed_principal"),  # unknown field, named
        ([], "body"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(data, field):
    with pytest.raises(ValidationError) as refused:
        DirectoryPolicy.parse(data)
    assert refused.value.field == field


# -- the caller ------------------------------------------------------------------------------------


def test_a_caller_is_an_admin_when_an_admin_pattern_matches_and_a_missing_identity_is_refused():
    from acmevault.app.authorization import Caller
    from acmevault.domain.errors import Forbidden

    admins = [f"arn:aws:iam::{ACCOUNT}:role/pki-admin"]
    assert Caller.signed(f"arn:aws:sts::{ACCOUNT}:assumed-role/pki-admin/carol", admins).admin
    assert not Caller.signed(TEAM_A_SESSION, admins).admin
    assert Caller.operator("arn:aws:iam::123456789012:user/ops").admin  # the CLI
    for missing in (None, ""):
        with pytest.raises(Forbidden) as refused:
            Caller.signed(missing, admins)
        assert refused.value.field == "requestContext.identity"
    team_a = DirectoryPolicy(allowed_principals=(f"arn:aws:iam::{ACCOUNT}:role/team-a-*",))
    assert Caller.signed(TEAM_A_SESSION, admins).may_use(team_a)
    assert not Caller.signed(TEAM_A_SESSION, admins).may_use(None)  # no policy: admins only
    assert Caller.signed(f"arn:aws:sts::{ACCOUNT}:assumed-role/pki-admin/carol", admins).may_use(None)


@pytest.mark.parametrize(
    "pattern",
    [
        "arn:aws:iam::123456789012:role/team-a\n",
        "arn:aws:iam::12345678901\u0662:role/team-a",
        "arn:aws:iam::123456789012:role/t\u00e9am",
    ],
)
def test_principal_patterns_are_whole_and_ascii(pattern):
    with pytest.raises(ValidationError):
        validate_principal_pattern(pattern)


def test_a_session_arn_with_a_trailing_newline_is_no_role():
    assert role_of("arn:aws:sts::123456789012:assumed-role/team-a/s1") == "arn:aws:iam::123456789012:role/team-a"
    assert role_of("arn:aws:sts::123456789012:assumed-role/team-a/s1\n") is None
