"""Vaulting a directory credential: validate, register at the CA at once, only then store."""

from __future__ import annotations

import json
from typing import Any

import pytest
from acmevault.adapters.acme.session import AcmeSession


def secret_json(stack: Any, name: str) -> dict[str, Any]:
    sm = stack.aws("secretsmanager")
    value = sm.get_secret_value(SecretId=f"acmevault/acmevault-local/directories/{name}", VersionStage="AWSCURRENT")
    return json.loads(value["SecretString"])


def test_put_registers_the_account_and_stores_the_credential(stack, cli, unique):
    # GIVEN the URL, KID and HMAC a CA shows once
    name = f"ca-{unique}"
    # WHEN they are vaulted, the HMAC piped on stdin
    result = cli(
        "directory", "put", name, "--url", stack.directory_url, "--eab-kid", "kid-1", stdin=stack.hmac() + "\n"
    )
    # THEN the account exists at Pebble and the secret holds the contract's fields
    assert result.code == 0, result.err
    stored = secret_json(stack, name)
    assert stored["directory_url"] == stack.directory_url
    assert stored["eab_kid"] == "kid-1"
    assert stored["eab_hmac_key"] == stack.hmac()
    assert stored["eab_hmac_alg"] == "HS256"
    assert stored["account_url"].startswith(stack.directory_url.removesuffix("/dir"))
    assert "BEGIN PRIVATE KEY" in stored["account_key"]
    assert stored["account_url"] in result.out
    # and the stored key really is that account's key: Pebble answers a lookup signed with it
    from acmevault.domain.directory import DirectoryCredential

    session = AcmeSession(DirectoryCredential.from_secret(stored), stored["account_key"])
    assert session.register() == stored["account_url"]


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_put_accepts_every_eab_mac_algorithm(stack, cli, unique, alg):
    result = cli(
        "directory",
        "put",
        f"ca-{unique}",
        "--url",
        stack.directory_url,
        "--eab-kid",
        "kid-2",
        "--hmac-alg",
        alg,
        stdin=stack.hmac("kid-2"),
    )
    assert result.code == 0, result.err
    assert secret_json(stack, f"ca-{unique}")["eab_hmac_alg"] == alg


def test_show_and_list_never_reveal_the_hmac_or_account_key(stack, cli, directory):
    shown = cli("directory", "show", directory, "--json")
    listed = cli("directory", "list", "--json")
    assert shown.code == listed.code == 0
    view = json.loads(shown.out)
    assert view["host"] == "127.0.0.1"
    assert view["eab_kid"] != "kid-1"  # masked
    assert "eab_hmac_key" not in view and "account_key" not in view
    assert directory in [d["name"] for d in json.loads(listed.out)]


def test_a_second_put_of_the_same_name_is_refused_and_changes_nothing(stack, cli, directory, state):
    before = state()
    result = cli("directory", "put", directory, "--url", stack.directory_url, "--eab-kid", "kid-1", stdin=stack.hmac())
    assert result.code == 1
    assert "already exists" in result.err and "rotate" in result.err
    assert state() == before


def test_the_hmac_key_is_never_taken_from_argv(stack, cli, unique, state):
    before = state()
    result = cli(
        "directory",
        "put",
        f"ca-{unique}",
        "--url",
        stack.directory_url,
        "--eab-kid",
        "kid-1",
        "--eab-hmac-key",
        "c2VjcmV0c2VjcmV0c2VjcmV0",
    )
    assert result.code == 2
    assert "never taken from the command line" in result.err
    assert state() == before


def _bad_inputs(stack: Any) -> list[tuple[str, list[str], str, str]]:
    """(case, extra argv, stdin, what the message must name)."""
    good = stack.hmac()
    return [
        (
            "http url",
            ["--url", stack.directory_url.replace("https", "http"), "--eab-kid", "kid-1"],
            good,
            "directory_url",
        ),
        ("not a url", ["--url", "directory", "--eab-kid", "kid-1"], good, "directory_url"),
        ("hmac not base64url", ["--url", stack.directory_url, "--eab-kid", "kid-1"], "not/base64+url!", "eab_hmac_key"),
        ("hmac too short", ["--url", stack.directory_url, "--eab-kid", "kid-1"], "c2hvcnQ", "eab_hmac_key"),
        ("empty hmac", ["--url", stack.directory_url, "--eab-kid", "kid-1"], "", "eab_hmac_key"),
        ("non-ascii kid", ["--url", stack.directory_url, "--eab-kid", "kïd"], good, "eab_kid"),
        ("kid with a space", ["--url", stack.directory_url, "--eab-kid", "kid 1"], good, "eab_kid"),
        ("unknown kid", ["--url", stack.directory_url, "--eab-kid", "no-such-kid"], good, "rejected the credential"),
        (
            "wrong hmac",
            ["--url", stack.directory_url, "--eab-kid", "kid-1"],
            stack.hmac("kid-2"),
            "rejected the credential",
        ),
        ("no eab at a CA that needs it", ["--url", stack.directory_url], "", "requires external account binding"),
        ("unreachable url", ["--url", "https://127.0.0.1:9/dir", "--eab-kid", "kid-1"], good, "cannot reach the CA"),
        (
            "not a directory",
            ["--url", stack.local.management_url + "/roots/0", "--eab-kid", "kid-1"],
            good,
            "not an ACME directory",
        ),
        ("bad name", ["--url", stack.directory_url, "--eab-kid", "kid-1"], good, "not a valid name"),
    ]


@pytest.mark.parametrize("case", range(13))
def test_bad_credentials_get_a_clear_error_and_change_nothing(stack, cli, unique, state, case):
    label, argv, stdin, expected = _bad_inputs(stack)[case]
    name = "Bad_Name" if label == "bad name" else f"bad-{unique}"
    before = state()
    result = cli("directory", "put", name, *argv, stdin=stdin)
    assert result.code != 0, label
    assert expected in result.err, (label, result.err)
    reasons = [line for line in result.err.splitlines() if line.startswith("acmevault:")]
    assert len(reasons) == 1 and reasons[0] == result.err.splitlines()[-1], "one line with the reason, last"
    assert state() == before, label
