"""`acmevault cert put`: every field of a certificate spec, checked with the API's checks and messages;
on an existing certificate only the fields given change."""

from __future__ import annotations

import json

import pytest
from acmevault.domain.certificate import SPEC_FIELDS
from acmevault_cli.commands.cert import SPEC_OPTIONS

from tests.e2e.api_client import call, event

ROLE = "arn:aws:iam::210987654321:role/dns-writer"
EVERY_FIELD = [
    "--key-type", "ec-p384", "--challenge", "dns-01", "--hosted-zone-id", "Z0ABC123", "--route53-role-arn", ROLE,
    "--acm-region", "us-east-1", "--acm-region", "eu-west-1", "--profile", "shortlived", "--renew-fraction", "0.25",
]  # fmt: skip


def spec_of(cli, name: str) -> dict:
    shown = cli("cert", "show", name, "--json")
    assert shown.code == 0, shown.err
    view = json.loads(shown.out)
    return {field: view[field] for field in SPEC_FIELDS}


def test_cert_put_has_an_option_for_every_spec_field():
    assert set(SPEC_OPTIONS) == set(SPEC_FIELDS)


def test_cert_put_sets_every_field_as_the_api_does(stack, cli, directory, unique):
    domains = [f"www.{unique}.example.com", f"{unique}.example.com"]
    result = cli(
        "cert", "put", f"cli-{unique}", "-d", domains[0], "-d", domains[1], "--directory", directory, *EVERY_FIELD
    )
    assert result.code == 0, result.err
    body = {
        "domains": domains,
        "directory": directory,
        "key_type": "ec-p384",
        "challenge": "dns-01",
        "hosted_zone_id": "Z0ABC123",
        "route53_role_arn": ROLE,
        "acm_regions": ["us-east-1", "eu-west-1"],
        "profile": "shortlived",
        "renew_fraction": 0.25,
    }
    assert call(stack, event("api-put-certificate.json", name=f"api-{unique}", body=body)).status == 201
    assert spec_of(cli, f"cli-{unique}") == spec_of(cli, f"api-{unique}") == body


BAD_VALUES = [
    ("renew_fraction", "--renew-fraction", "1.5", 1.5),
    ("renew_fraction", "--renew-fraction", "0.01", 0.01),
    ("renew_fraction", "--renew-fraction", "soon", "soon"),
    ("key_type", "--key-type", "dsa-1024", "dsa-1024"),
    ("challenge", "--challenge", "http-01", "http-01"),
    ("hosted_zone_id", "--hosted-zone-id", "zone;drop", "zone;drop"),
    ("route53_role_arn", "--route53-role-arn", "arn:aws:iam::210987654321:user/x", "arn:aws:iam::210987654321:user/x"),
    ("profile", "--profile", "a b", "a b"),
    ("acm_regions", "--acm-region", "mars-1", ["mars-1"]),
    ("directory", "--directory", "Not_A_Name", "Not_A_Name"),
    ("domains", "-d", "", [""]),  # an empty value clears only an optional field
]


@pytest.mark.parametrize(
    ("field", "flag", "text", "json_value"), BAD_VALUES, ids=[f"{b[1]}={b[2]}" for b in BAD_VALUES]
)
def test_a_bad_value_gets_the_apis_message(stack, cli, directory, unique, state, field, flag, text, json_value):
    before = state()
    body = {"domains": [f"{unique}.example.com"], "directory": directory, field: json_value}
    api = call(stack, event("api-put-certificate.json", name=f"bad-{unique}", body=body))
    argv = ["cert", "put", f"bad-{unique}", "-d", f"{unique}.example.com", "--directory", directory, flag, text]
    result = cli(*argv)
    assert api.status == 400 and api.body["field"] == field
    assert result.code == 2
    assert result.err.splitlines() == [f"acmevault: cert put bad-{unique}: {api.body['message']}"]
    assert state() == before


def test_put_on_an_existing_certificate_changes_only_the_fields_given(stack, cli, directory, unique, state):
    name, domain = f"part-{unique}", f"part-{unique}.example.com"
    assert cli("cert", "put", name, "-d", domain, "--directory", directory, "--profile", "p1").code == 0
    issued = cli("cert", "issue", name)
    assert issued.code == 0, issued.err
    serial = json.loads(cli("cert", "show", name, "--json").out)["serial"]
    first = spec_of(cli, name)

    changed = cli("cert", "put", name, "--renew-fraction", "0.5")
    assert changed.code == 0 and f"certificate {name} changed" in changed.out
    assert spec_of(cli, name) == {**first, "renew_fraction": 0.5}

    assert cli("cert", "put", name, "--profile", "").code == 0, "an empty value clears a field"
    assert spec_of(cli, name) == {**first, "renew_fraction": 0.5, "profile": None}

    assert cli("cert", "put", name, "-d", domain, "-d", f"www.{domain}").code == 0, "-d replaces the list"
    assert spec_of(cli, name)["domains"] == [domain, f"www.{domain}"]
    assert json.loads(cli("cert", "show", name, "--json").out)["serial"] == serial, "the state is kept"

    before = state()
    refused = cli("cert", "put", name, "--renew-fraction", "2")
    assert refused.code == 2 and "renew_fraction" in refused.err
    assert state() == before
