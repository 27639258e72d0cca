"""POST /directories/{name}/rotate and /revoke, and GET /directories/{name}, through ApiFunction."""

from __future__ import annotations

import json
from typing import Any

from acmevault.adapters.acme.session import AcmeSession
from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import CaError

from tests.e2e.api_client import Reply, call, event, sample
from tests.e2e.test_api import actions, put_directory
from tests.e2e.test_handlers import drain

PREFIX = "acmevault/acmevault-local/directories/"


def rotate(stack: Any, name: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    return call(stack, event("api-post-directory-rotate.json", name=name, body=body, headers=headers))


def revoke(stack: Any, name: str, body: Any = None) -> Reply:
    return call(stack, event("api-post-directory-revoke.json", name=name, body=body))


def get(stack: Any, name: str) -> Reply:
    return call(stack, event("api-get-directory.json", name=name))


def new_credential(stack: Any, kid: str, **changes: Any) -> dict[str, Any]:
    body = json.loads(sample("api-post-directory-rotate.json")["body"])
    body.update({"directory_url": stack.directory_url, "eab_kid": kid, "eab_hmac_key": stack.hmac(kid), **changes})
    return dict(body)


def secret(stack: Any, name: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    value = stack.aws("secretsmanager").get_secret_value(SecretId=PREFIX + name, VersionStage=stage)
    return dict(json.loads(value["SecretString"]))


def refused_with(data: dict[str, Any]) -> str | None:
    try:
        AcmeSession(DirectoryCredential.from_secret(data), data["account_key"]).account_status()
    except CaError as error:
        return error.problem_type
    return None


def test_rotate_without_a_body_rolls_the_account_key_over(stack, unique):
    name = f"apiroll-{unique}"
    assert put_directory(stack, name).status == 201
    old = secret(stack, name)
    reply = rotate(stack, name)
    assert reply.status == 200, reply.body
    assert reply.body["rotation"]["kind"] == "key-rollover" and reply.body["rotation"]["outcome"] == "rotated"
    assert reply.body["rotation"]["actor"] == "arn:aws:sts::123456789012:assumed-role/pki-operator/pki-operator"
    new = secret(stack, name)
    assert new["account_url"] == old["account_url"] and new["account_key"] != old["account_key"]
    assert refused_with(old) == "malformed" and refused_with(new) is None
    # a retry of the same request is answered, not acted on again
    again = rotate(stack, name)
    assert again.status == 200 and again.header("Idempotent-Replayed") == "true"
    assert secret(stack, name) == new


def test_rotate_with_a_new_credential_replaces_it_and_never_echoes_the_hmac(stack, cli, unique):
    name = f"apirep-{unique}"
    assert put_directory(stack, name).status == 201
    cert = f"apirep-{unique}"
    assert cli("cert", "put", cert, "-d", f"{cert}.example.com", "--directory", name).code == 0
    assert cli("cert", "issue", cert).code == 0
    serial = json.loads(cli("cert", "show", cert, "--json").out)["serial"]
    old = secret(stack, name)
    sqs, url = stack.aws("sqs"), stack.env["ACMEVAULT_QUEUE_URL"]
    drain(sqs, url)
    reply = rotate(stack, name, new_credential(stack, "kid-3"))  # call() fails on an echoed HMAC key
    assert reply.status == 200, reply.body
    assert reply.body["state"] == "active" and reply.body["rotation"]["kind"] == "replacement"
    assert reply.body["revocations_waiting"] == [cert]  # the sample asks for revoke_previous
    assert secret(stack, name)["eab_kid"] == "kid-3" and refused_with(old) == "unauthorized"
    # the serial it replaces rides along: a redelivery after the re-issue does nothing
    assert drain(sqs, url) == [{"certificate": cert, "reason": "directory-rotated", "requested_serial": serial}]
    shown = get(stack, name)
    assert shown.status == 200 and actions(shown.body["history"])[0]["action"] == "rotation finished"


def test_a_credential_the_ca_refuses_is_422_and_nothing_changes(stack, unique):
    name = f"apibad-{unique}"
    assert put_directory(stack, name).status == 201
    versions = get(stack, name).body["versions"]
    reply = rotate(stack, name, new_credential(stack, "kid-2", eab_hmac_key=stack.hmac("kid-3")))
    assert reply.status == 422 and reply.body["error"] == "credential_rejected"
    assert {v: s for v, s in get(stack, name).body["versions"].items() if s} == versions


def test_revoke_marks_it_lost_and_only_a_new_credential_brings_it_back(stack, cli, unique):
    name = f"apilost-{unique}"
    assert put_directory(stack, name).status == 201
    old = secret(stack, name)
    reply = revoke(stack, name, {"reason": "leaked in a chat"})
    assert reply.status == 200, reply.body
    assert reply.body["state"] == "lost" and reply.body["marked_lost"]["by"].endswith("pki-operator")
    assert refused_with(old) == "unauthorized"
    cert = f"apilost-{unique}"
    assert cli("cert", "put", cert, "-d", f"{cert}.example.com", "--directory", name).code == 0
    refused = cli("cert", "issue", cert)
    assert refused.code == 1 and "marked lost" in refused.err
    rolled = rotate(stack, name, headers={"Idempotency-Key": f"roll-{unique}"})
    assert rolled.status == 409 and rolled.body["error"] == "directory_lost"
    replaced = rotate(stack, name, new_credential(stack, "kid-2", revoke_previous=False))
    assert replaced.status == 200 and replaced.body["state"] == "active"
    assert cli("cert", "issue", cert).code == 0


def test_rotate_and_revoke_check_their_input_by_field(stack, unique, state):
    name = f"apiin-{unique}"
    assert put_directory(stack, name).status == 201
    before = state()
    cases = [
        (rotate, {"revoke_previous": "yes"}, "revoke_previous"),
        (rotate, {"revoke_previous": True}, "revoke_previous"),
        (rotate, {"certcentral": True, "directory_url": stack.directory_url}, "certcentral"),
        (rotate, {"eab_kid": "kid-2"}, "directory_url"),
        (rotate, {"directory_url": stack.directory_url, "eab_kid": "kid-2", "eab_hmac_key": "short"}, "eab_hmac_key"),
        (rotate, {"account_key": "x"}, "account_key"),
        (revoke, {"reason": "x" * 201}, "reason"),
        (revoke, {"why": "x"}, "why"),
    ]
    for route, body, field in cases:
        reply = route(stack, name, body)
        assert reply.status == 400, (body, reply.body)
        assert reply.body["field"] == field
    assert rotate(stack, "no-such-directory").status == 404
    assert state() == before
