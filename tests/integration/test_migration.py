"""Moving a directory to another directory URL at another CA (two Pebbles): every certificate records
the directory URL that issued it, and is revoked there, signed with its own key, whatever became of
the credential that ordered it. Revocation is confirmed at each Pebble's management API."""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from acmevault_cli.local.invoke import load_event
from acmevault_cli.local.stack import LocalStack

from tests.conftest import second_pebble
from tests.integration.test_rotation import queued, renewed_event
from tests.integration.test_rotation import run as run_with

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def new_ca(tmp_path_factory: pytest.TempPathFactory, stack: Any) -> Iterator[LocalStack]:
    """A second CA: its own Pebble (its own roots, accounts and serials), trusted beside the first."""
    with second_pebble(tmp_path_factory, stack, "new-ca") as other:
        yield other


def run(stack: Any, function: str, event: Any) -> Any:
    """A function from template.yaml, as sam local invoke runs it, trusting both CAs."""
    both = os.environ["REQUESTS_CA_BUNDLE"]
    try:
        return run_with(replace(stack, env={**stack.env, "REQUESTS_CA_BUNDLE": both}), function, event)
    finally:
        os.environ["REQUESTS_CA_BUNDLE"] = both


def work(stack: Any, bodies: list[dict[str, Any]]) -> None:
    """The issue worker (IssueFunction) with these messages, as SQS delivers a batch."""
    sample = load_event(ROOT / "events/issue-sqs.json")["Records"][0]
    records = [{**sample, "messageId": str(uuid.uuid4()), "body": json.dumps(b)} for b in bodies]
    assert run(stack, "IssueFunction", {"Records": records}) == {"batchItemFailures": []}


def status_at(ca: LocalStack, serial: str) -> str:
    """Valid or Revoked as this Pebble's management API reports the serial (404: it never issued it)."""
    context = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    url = f"{ca.management_url}/cert-status-by-serial/{serial}"
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as response:  # noqa: S310 - the local stack
            return str(json.loads(response.read())["Status"])
    except urllib.error.HTTPError as error:
        return f"unknown ({error.code})"


def show(cli: Any, name: str) -> dict[str, Any]:
    shown = cli("cert", "show", name, "--json")
    assert shown.code == 0, shown.err
    return dict(json.loads(shown.out))


def metadata(stack: Any, name: str) -> dict[str, Any]:
    body = stack.aws("s3").get_object(Bucket=stack.env["ACMEVAULT_BUCKET"], Key=f"certificates/{name}/metadata.json")
    return dict(json.loads(body["Body"].read()))


def issued(cli: Any, name: str, directory: str) -> dict[str, Any]:
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    result = cli("cert", "issue", name)
    assert result.code == 0, result.err
    return show(cli, name)


def rotate_to(cli: Any, directory: str, ca: LocalStack, *extra: str) -> None:
    result = cli(
        "directory", "rotate", directory, "--url", ca.directory_url, "--eab-kid", "kid-2", *extra,
        stdin=ca.eab_keys()["kid-2"],
    )  # fmt: skip
    assert result.code == 0, result.err


def test_moving_to_another_ca_revokes_each_replaced_certificate_at_the_ca_that_issued_it(
    stack, cli, directory, unique, new_ca
):
    # GIVEN two certificates issued by the first CA, each recording its issuing directory URL
    names = [f"move{i}-{unique}" for i in range(2)]
    before = {n: issued(cli, n, directory) for n in names}
    for name in names:
        assert before[name]["issuer_directory_url"] == stack.directory_url
        assert metadata(stack, name)["issuer_directory_url"] == stack.directory_url
        assert status_at(stack.local, before[name]["serial"]) == "Valid"
    queued(stack)

    # WHEN the directory moves to the other CA, the previous certificates to be revoked once replaced
    rotate_to(cli, directory, new_ca, "--revoke-previous")
    work(stack, queued(stack))  # the issue worker re-issues each from the new CA

    # THEN each is re-issued by the new CA, which records it as the issuer
    after = {n: show(cli, n) for n in names}
    for name in names:
        assert after[name]["serial"] != before[name]["serial"]
        assert after[name]["issuer_directory_url"] == new_ca.directory_url
        assert metadata(stack, name)["issuer_directory_url"] == new_ca.directory_url
        assert status_at(new_ca, after[name]["serial"]) == "Valid"
        assert status_at(stack.local, before[name]["serial"]) == "Valid"  # not before its replacement is served

    # WHEN the rotate function hears of each replacement
    for name in names:
        assert run(stack, "RotateFunction", renewed_event(name)) == {"revoked": [name]}
        # THEN the old certificate is revoked at the OLD CA (whose account was deactivated by the move),
        # and the new one stays valid at the new CA
        assert status_at(stack.local, before[name]["serial"]) == "Revoked"
        assert status_at(new_ca, after[name]["serial"]) == "Valid"
    shown = json.loads(cli("directory", "show", directory, "--json").out)
    assert shown["revocations_waiting"] == []
    assert "previous certificate revoked" in {h["action"] for h in shown["history"] if h["outcome"] == "ok"}


def test_revoking_a_certificate_issued_before_the_move_goes_to_the_ca_that_issued_it(
    stack, cli, directory, unique, new_ca
):
    # GIVEN a certificate from the first CA, and the directory moved to the other CA before it was re-issued
    name = f"left-{unique}"
    before = issued(cli, name, directory)
    rotate_to(cli, directory, new_ca)
    queued(stack)  # its re-issue message is not worked: the record still serves the first CA's certificate
    assert show(cli, name)["serial"] == before["serial"]

    # WHEN it is revoked on demand
    result = cli("cert", "revoke", name, "--reason", "keyCompromise")

    # THEN the first CA revoked it (the current credential's CA never issued it), and it is marked revoked
    assert result.code == 0, result.err
    assert status_at(stack.local, before["serial"]) == "Revoked"
    assert status_at(new_ca, before["serial"]).startswith("unknown")
    view = show(cli, name)
    assert view["status"] == "revoked" and view["serial"] == before["serial"]
    assert metadata(stack, name)["revoked"]["reason"] == "keyCompromise"
