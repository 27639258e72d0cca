"""The HTTP API through ApiFunction, with the sample events in events/, against Pebble + moto.

Every answer is checked for secret material by tests/e2e/api_client.py; every log line
by the session's leak scanner.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from acmevault.adapters.aws.table import CERT_PK

from tests.e2e.api_client import Reply, call, event, sample
from tests.e2e.test_handlers import drain, run

# -- helpers ---------------------------------------------------------------------------------------


def put_directory(stack: Any, name: str, kid: str = "kid-1", **changes: Any) -> Reply:
    body = json.loads(sample("api-put-directory.json")["body"])
    body.update(directory_url=stack.directory_url, eab_kid=kid, eab_hmac_key=stack.hmac(kid), **changes)
    return call(stack, event("api-put-directory.json", name=name, body=body))


def put_certificate(stack: Any, name: str, directory: str, **changes: Any) -> Reply:
    body = json.loads(sample("api-put-certificate.json")["body"])
    body.update({"domains": [f"{name}.example.com", f"www.{name}.example.com"], "directory": directory, **changes})
    return call(stack, event("api-put-certificate.json", name=name, body=body))


def get_certificate(stack: Any, name: str) -> Reply:
    return call(stack, event("api-get-certificate.json", name=name))


def revoke(stack: Any, name: str, reason: str, headers: dict[str, str] | None = None) -> Reply:
    return call(stack, event("api-post-certificate-revoke.json", name=name, body={"reason": reason}, headers=headers))


def renew(stack: Any, name: str, headers: dict[str, str] | None = None) -> Reply:
    return call(stack, event("api-post-certificate-renew.json", name=name, headers=headers))


def issued(stack: Any, cli: Any, name: str, directory: str) -> dict[str, Any]:
    """A certificate defined through the API and issued (as the worker would)."""
    assert put_certificate(stack, name, directory).status == 201
    result = cli("cert", "issue", name)
    assert result.code == 0, result.err
    shown = get_certificate(stack, name)
    assert shown.body["status"] == "issued"
    return dict(shown.body)


def actions(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A history without its authorization entries (tests/e2e/test_authorization.py checks those)."""
    return [h for h in history if h["action"] != "authorization"]


def pebble_status(stack: Any, serial: str) -> dict[str, Any]:
    """What Pebble's management API says about a certificate."""
    url = f"{stack.local.management_url}/cert-status-by-serial/{serial}"
    response = requests.get(url, verify=str(stack.local.ca_bundle), timeout=5)
    response.raise_for_status()
    return dict(response.json())


def s3_metadata(stack: Any, name: str) -> dict[str, Any]:
    s3 = stack.aws("s3")
    obj = s3.get_object(Bucket=stack.env["ACMEVAULT_BUCKET"], Key=f"certificates/{name}/metadata.json")
    return dict(json.loads(obj["Body"].read()))


def acm_tags(stack: Any, arn: str) -> dict[str, str]:
    tags = stack.aws("acm").list_tags_for_certificate(CertificateArn=arn).get("Tags", [])
    return {t["Key"]: t.get("Value", "") for t in tags}


def work_queue(stack: Any, sqs: Any, url: str) -> list[dict[str, Any]]:
    """Hand every queued message to IssueFunction (as the SQS trigger would); return their bodies."""
    bodies = drain(sqs, url)
    if bodies:
        template = sample("issue-sqs.json")["Records"][0]
        records = [{**template, "messageId": f"m-{i}", "body": json.dumps(b)} for i, b in enumerate(bodies)]
        assert run(stack, "IssueFunction", {"Records": records}) == {"batchItemFailures": []}
    return bodies


def events_of(stack: Any, detail_type: str, name: str) -> list[dict[str, Any]]:
    sqs, url = stack.aws("sqs"), stack.env["ACMEVAULT_LOCAL_EVENTS_QUEUE_URL"]
    found = [json.loads(body) for body in _drain_raw(sqs, url)]
    return [e for e in found if e["detail-type"] == detail_type and e["detail"].get("certificate") == name]


def _drain_raw(sqs: Any, url: str) -> list[str]:
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [m["Body"] for m in messages]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return bodies


def idempotency_records(stack: Any) -> int:
    ddb = stack.aws("dynamodb")
    response = ddb.query(
        TableName=stack.env["ACMEVAULT_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "IDEMPOTENCY"}},
        Select="COUNT",
    )
    return int(response["Count"])


@pytest.fixture
def queue(stack: Any) -> Any:
    sqs = stack.aws("sqs")
    url = stack.env["ACMEVAULT_QUEUE_URL"]
    drain(sqs, url)
    yield sqs, url
    drain(sqs, url)


# -- directories -----------------------------------------------------------------------------------


def test_put_directory_vaults_and_registers_and_never_echoes_the_hmac(stack, unique):
    # GIVEN the sample request, with the local CA's URL and HMAC key in place of the placeholders
    name = f"api-{unique}"
    # WHEN it is sent
    reply = put_directory(stack, name)
    # THEN the directory is vaulted, the account registered, and the answer shows only the public view
    assert reply.status == 201, reply.body
    assert reply.header("Location") == f"/prod/directories/{name}"
    assert reply.body["name"] == name
    assert reply.body["host"] == "127.0.0.1"
    assert reply.body["eab_kid"] == "…"  # masked
    assert reply.body["account_url"].startswith(stack.directory_url.removesuffix("/dir"))
    assert reply.body["status"] == "registered"
    assert list(reply.body["versions"].values()) == [["AWSCURRENT"]]
    secret = json.loads(
        stack.aws("secretsmanager").get_secret_value(SecretId=f"acmevault/acmevault-local/directories/{name}")[
            "SecretString"
        ]
    )
    assert secret["eab_hmac_key"] == stack.hmac() and secret["account_url"] == reply.body["account_url"]
    assert "PRIVATE KEY" in secret["account_key"]


def test_put_directory_sample_placeholder_is_refused_by_name(stack, unique, state):
    # The sample body carries a placeholder, never a key: sent as it is, it is refused, naming the field.
    before = state()
    request = event("api-put-directory.json", name=f"ph-{unique}")
    assert "<base64url HMAC from your CA>" in request["body"]
    reply = call(stack, request)
    assert reply.status == 400
    assert reply.body["field"] == "eab_hmac_key" and "base64url" in reply.body["message"]
    assert state() == before


def test_nothing_secret_is_logged_even_at_debug(stack, unique, monkeypatch):
    # As a container started with POWERTOOLS_LOG_LEVEL=DEBUG: Powertools sets the level at a cold start
    # only, so a warm logger is set here the same way.
    logger, previous = logging.getLogger("acmevault"), logging.getLogger("acmevault").level
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    logger.setLevel(logging.DEBUG)  # setLevel, not .level: it clears logging's cache of enabled levels
    try:
        reply = put_directory(stack, f"dbg-{unique}")  # call() fails on a secret in any raw record
        assert logging.getLogger("acmevault.app.accounts").isEnabledFor(logging.DEBUG)  # the handler ran at DEBUG
    finally:
        logger.setLevel(previous)
    assert reply.status == 201
    assert any("directory vaulted" in line for line in reply.logged)


def test_get_directories_and_one_directory(stack, unique):
    name = f"api-{unique}"
    assert put_directory(stack, name, kid="kid-2").status == 201
    listed = call(stack, event("api-get-directories.json"))
    shown = call(stack, event("api-get-directory.json", name=name))
    assert listed.status == shown.status == 200
    assert name in [d["name"] for d in listed.body["directories"]]
    assert shown.body["host"] == "127.0.0.1" and shown.body["eab_kid"] == "…"
    assert shown.body["created"] and shown.body["changed"]
    assert "AWSCURRENT" in [stage for stages in shown.body["versions"].values() for stage in stages]


def test_a_directory_the_ca_refuses_is_422_and_nothing_is_stored(stack, unique, state):
    before = state()
    body = json.loads(sample("api-put-directory.json")["body"])
    body.update(directory_url=stack.directory_url, eab_kid="kid-1", eab_hmac_key=stack.hmac("kid-2"))
    reply = call(stack, event("api-put-directory.json", name=f"bad-{unique}", body=body))
    assert reply.status == 422
    assert reply.body["error"] == "credential_rejected"
    assert "rejected the credential" in reply.body["message"]
    assert state() == before


def test_an_unreachable_ca_is_503_with_retry_after(stack, unique, state):
    before = state()
    body = json.loads(sample("api-put-directory.json")["body"])
    body.update(directory_url="https://127.0.0.1:9/dir", eab_kid="kid-1", eab_hmac_key=stack.hmac())
    reply = call(stack, event("api-put-directory.json", name=f"down-{unique}", body=body))
    assert reply.status == 503
    assert reply.body["error"] == "ca_unavailable" and "cannot reach the CA" in reply.body["message"]
    assert int(reply.header("Retry-After") or 0) >= 1
    assert state() == before


def test_a_second_directory_of_the_same_name_is_409(stack, directory, state):
    before = state()
    reply = put_directory(stack, directory, kid="kid-3")
    assert reply.status == 409
    assert "already exists" in reply.body["message"]
    assert state() == before


# -- certificates ----------------------------------------------------------------------------------


def test_put_certificate_creates_then_changes_and_get_shows_it(stack, directory, unique):
    name = f"web-{unique}"
    created = put_certificate(stack, name, directory)
    assert created.status == 201, created.body
    assert created.header("Location") == f"/prod/certificates/{name}"
    assert created.body["status"] == "pending"
    changed = put_certificate(stack, name, directory, key_type="ec-p384", domains=[f"{name}.example.org"])
    assert changed.status == 200
    shown = get_certificate(stack, name)
    assert shown.status == 200
    assert shown.body["key_type"] == "ec-p384" and shown.body["domains"] == [f"{name}.example.org"]
    # Each allowed change is in the audit history with the principal that made it (the sample events' operator).
    history = shown.body["history"]
    assert [(e["action"], e["outcome"], e["route"]) for e in history] == [
        ("authorization", "allowed", "PUT /certificates/{name}")
    ] * 2
    assert {e["actor"] for e in history} == {"arn:aws:sts::123456789012:assumed-role/pki-operator/pki-operator"}


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", 'application/json; x=1; charset="UTF-8"']
)
def test_json_with_parameters_or_another_case_is_json(stack, directory, unique, content_type):
    body = {"domains": [f"ct-{unique}.example.com"], "directory": directory}
    request = event("api-put-certificate.json", name=f"ct-{unique}", body=body, content_type=content_type)
    assert call(stack, request).status == 201


def test_a_certificate_spec_a_then_b_then_a_ends_as_a(stack, directory, unique):
    # Idempotency must not swallow a real change back: the third PUT equals the first, and applies.
    name = f"aba-{unique}"
    assert put_certificate(stack, name, directory, key_type="rsa-2048").status == 201
    assert put_certificate(stack, name, directory, key_type="ec-p384").status == 200
    again = put_certificate(stack, name, directory, key_type="rsa-2048")
    assert again.status == 200 and again.header("Idempotent-Replayed") is None
    assert get_certificate(stack, name).body["key_type"] == "rsa-2048"


def test_list_certificates_pages_in_name_order(stack, directory, unique):
    names = [f"page-{unique}-{i}" for i in range(3)]
    for name in names:
        assert put_certificate(stack, name, directory).status == 201
    seen: list[str] = []
    after = None
    for _ in range(1000):
        query = {"limit": "2", **({"after": after} if after else {})}
        page = call(stack, event("api-get-certificates.json", query=query))
        assert page.status == 200
        assert len(page.body["certificates"]) <= 2
        seen += [c["name"] for c in page.body["certificates"]]
        after = page.body["next"]
        if after is None:
            break
    assert seen == sorted(seen)
    assert [n for n in seen if n in names] == names


def test_get_a_missing_certificate_is_404_naming_it(stack, unique):
    reply = get_certificate(stack, f"nope-{unique}")
    assert reply.status == 404
    assert reply.body == {
        "error": "not_found",
        "message": f"certificate 'nope-{unique}' does not exist; define it with 'acmevault cert put nope-{unique}'",
    }


def test_renew_queues_one_message_and_the_worker_issues_it(stack, directory, unique, queue):
    sqs, url = queue
    name = f"renew-{unique}"
    assert put_certificate(stack, name, directory).status == 201
    # WHEN a renewal is asked for
    reply = renew(stack, name)
    # THEN 202 says where to poll, and one message is queued for the issue worker
    assert reply.status == 202
    assert reply.header("Location") == f"/prod/certificates/{name}"
    assert reply.body["poll"] == f"/prod/certificates/{name}" and reply.body["queued"] is True
    bodies = work_queue(stack, sqs, url)
    assert bodies == [{"certificate": name, "reason": "on-demand", "requested_serial": None}]
    # and the worker issued it; the history says who asked
    shown = get_certificate(stack, name)
    assert shown.body["status"] == "issued" and shown.body["serial"]
    assert [h["action"] for h in actions(shown.body["history"])] == ["renewal requested"]


def test_the_same_renew_twice_queues_one_message(stack, directory, unique, queue):
    sqs, url = queue
    name = f"twice-{unique}"
    assert put_certificate(stack, name, directory).status == 201
    first, second = renew(stack, name), renew(stack, name)
    assert first.status == second.status == 202
    assert first.header("Idempotent-Replayed") is None
    assert second.header("Idempotent-Replayed") == "true"
    assert second.body == first.body
    assert drain(sqs, url) == [{"certificate": name, "reason": "on-demand", "requested_serial": None}]
    # a new Idempotency-Key is a new request: the caller asked for a second renewal on purpose
    third = renew(stack, name, headers={"Idempotency-Key": f"again-{unique}"})
    retried = renew(stack, name, headers={"Idempotency-Key": f"again-{unique}"})
    assert third.status == retried.status == 202 and retried.header("Idempotent-Replayed") == "true"
    assert drain(sqs, url) == [{"certificate": name, "reason": "on-demand", "requested_serial": None}]


def test_a_retry_that_arrives_while_the_first_is_running_is_409_and_nothing_is_done_twice(
    stack, directory, unique, queue
):
    from acmevault.composition.services import queue as issue_queue
    from acmevault.entrypoints.http.dependencies import issue_requests

    sqs, url = queue
    name = f"race-{unique}"
    assert put_certificate(stack, name, directory).status == 201
    during: list[Reply] = []

    class RetriedWhileSending:
        """The issue queue, with the caller's retry arriving while the first attempt is still at work."""

        def send(self, *args: Any, **kwargs: Any) -> int:
            if not during:
                during.append(renew(stack, name))
            return issue_queue().send(*args, **kwargs)

    first = call(
        stack, event("api-post-certificate-renew.json", name=name), overrides={issue_requests: RetriedWhileSending}
    )
    (retry,) = during
    assert retry.status == 409 and "being worked on" in retry.body["message"]
    assert first.status == 202
    assert drain(sqs, url) == [{"certificate": name, "reason": "on-demand", "requested_serial": None}]


def test_an_idempotency_key_reused_for_another_request_is_refused(stack, directory, unique, state):
    name = f"reuse-{unique}"
    assert put_certificate(stack, name, directory).status == 201
    key = {"Idempotency-Key": f"k-{unique}"}
    first = call(
        stack,
        event(
            "api-put-certificate.json",
            name=name,
            body={"domains": [f"{name}.example.com"], "directory": directory},
            headers=key,
        ),
    )
    assert first.status == 200
    before = state()
    other = call(
        stack,
        event(
            "api-put-certificate.json",
            name=name,
            body={"domains": [f"{name}.example.org"], "directory": directory},
            headers=key,
        ),
    )
    assert other.status == 422
    assert other.body["field"] == "Idempotency-Key" and "different request" in other.body["message"]
    assert state() == before


def test_revoke_is_revoked_at_pebble_with_the_reason_and_every_copy_is_marked(stack, cli, directory, unique):
    name = f"rev-{unique}"
    cert = issued(stack, cli, name, directory)
    assert pebble_status(stack, cert["serial"])["Status"] == "Valid"
    events_of(stack, "Certificate Revoked", name)  # nothing of this certificate's yet; empties the inbox
    # WHEN it is revoked with keyCompromise
    reply = revoke(stack, name, "keyCompromise")
    # THEN the CA reports it revoked with RFC 5280 code 1
    assert reply.status == 200, reply.body
    assert reply.body["status"] == "revoked" and reply.body["serial"] == cert["serial"]
    assert reply.body["revocation"] == {"reason": "keyCompromise", "code": 1}
    at_pebble = pebble_status(stack, cert["serial"])
    assert at_pebble["Status"] == "Revoked" and at_pebble["Reason"] == 1
    # and the copies are kept but marked: S3 metadata, the ACM tag; state, history and an event
    assert s3_metadata(stack, name)["revoked"]["reason"] == "keyCompromise"
    (arn,) = cert["acm_arns"].values()
    assert acm_tags(stack, arn)["acmevault:revoked"] == "keyCompromise"
    shown = get_certificate(stack, name)
    assert shown.body["status"] == "revoked" and shown.body["acm_arns"] == cert["acm_arns"]
    assert [(h["action"], h["reason"], h["code"]) for h in actions(shown.body["history"])] == [
        ("revoked", "keyCompromise", 1)
    ]
    (sent,) = events_of(stack, "Certificate Revoked", name)
    assert sent["source"] == "acmevault" and sent["detail"]["reason_code"] == 1
    # and the sweep will not renew it behind anyone's back: it is not in the due index
    from acmevault.composition.services import services

    assert name not in set(services().certificates.due(datetime.now(UTC) + timedelta(days=3650)))


@pytest.mark.parametrize(
    ("reason", "code"),
    [("unspecified", 0), ("affiliationChanged", 3), ("superseded", 4), ("cessationOfOperation", 5)],
)
def test_every_subscriber_reason_reaches_pebble(stack, cli, directory, unique, reason, code):
    name = f"why-{unique}"
    serial = issued(stack, cli, name, directory)["serial"]
    assert revoke(stack, name, reason).status == 200
    assert pebble_status(stack, serial) | {"Certificate": None, "RevokedAt": None} == {
        "Certificate": None,
        "RevokedAt": None,
        "Status": "Revoked",
        "Serial": serial,
        "Reason": code,
    }


def test_the_same_revoke_twice_revokes_once(stack, cli, directory, unique):
    name = f"rev2-{unique}"
    cert = issued(stack, cli, name, directory)
    first, second = revoke(stack, name, "superseded"), revoke(stack, name, "superseded")
    assert first.status == second.status == 200
    assert second.header("Idempotent-Replayed") == "true"
    history = get_certificate(stack, name).body["history"]
    assert [h["action"] for h in actions(history)] == ["revoked"]
    assert pebble_status(stack, cert["serial"])["Reason"] == 4
    # a revoke that is not a retry (another key) is told the certificate is revoked already
    again = revoke(stack, name, "superseded", headers={"Idempotency-Key": f"new-{unique}"})
    assert again.status == 409 and "revoked already" in again.body["message"]


def test_a_revoked_certificate_is_reissued_only_on_request_and_can_be_revoked_again(
    stack, cli, directory, unique, queue
):
    sqs, url = queue
    name = f"again-{unique}"
    cert = issued(stack, cli, name, directory)
    assert revoke(stack, name, "keyCompromise").status == 200
    (arn,) = cert["acm_arns"].values()
    # WHEN the next action, a re-issue, is asked for and the worker runs it
    assert renew(stack, name).status == 202
    work_queue(stack, sqs, url)
    # THEN a new certificate serves from the same ARN, no longer marked revoked
    shown = get_certificate(stack, name).body
    assert shown["status"] == "issued" and shown["serial"] != cert["serial"]
    assert shown["acm_arns"] == cert["acm_arns"]
    assert "acmevault:revoked" not in acm_tags(stack, arn)
    assert "revoked" not in s3_metadata(stack, name)
    # and the same revoke request as before now revokes the new one (it is not a replay)
    reply = revoke(stack, name, "keyCompromise")
    assert reply.status == 200 and reply.header("Idempotent-Replayed") is None
    assert reply.body["serial"] == shown["serial"]
    assert pebble_status(stack, shown["serial"])["Status"] == "Revoked"


def test_revoking_a_certificate_never_issued_is_409(stack, directory, unique, state):
    name = f"new-{unique}"
    assert put_certificate(stack, name, directory).status == 201
    before = state()
    reply = revoke(stack, name, "unspecified")
    assert reply.status == 409 and "never been issued" in reply.body["message"]
    assert state() == before


def test_delete_with_revoke_revokes_then_stops_managing(stack, cli, directory, unique):
    name = f"del-{unique}"
    cert = issued(stack, cli, name, directory)
    # WHEN the sample DELETE (?revoke=true&reason=cessationOfOperation) is sent
    request = event("api-delete-certificate.json", name=name)
    assert request["queryStringParameters"] == {"revoke": "true", "reason": "cessationOfOperation"}
    reply = call(stack, request)
    # THEN Pebble has it revoked with code 5, the record is gone, ACM and S3 keep their (marked) copies
    assert reply.status == 200
    assert reply.body["deleted"] is True and reply.body["revoked"]["serial"] == cert["serial"]
    assert pebble_status(stack, cert["serial"])["Reason"] == 5
    assert get_certificate(stack, name).status == 404
    assert s3_metadata(stack, name)["revoked"]["reason"] == "cessationOfOperation"
    (arn,) = cert["acm_arns"].values()
    assert acm_tags(stack, arn)["acmevault:revoked"] == "cessationOfOperation"


def test_delete_without_revoke_leaves_the_certificate_valid(stack, cli, directory, unique):
    name = f"keep-{unique}"
    cert = issued(stack, cli, name, directory)
    reply = call(stack, event("api-delete-certificate.json", name=name, query=None))
    assert reply.status == 200 and reply.body["revoked"] is None
    assert pebble_status(stack, cert["serial"])["Status"] == "Valid"
    assert call(stack, event("api-delete-certificate.json", name=name, query=None)).status == 404


# -- every sample event ----------------------------------------------------------------------------


def test_every_route_answers_its_sample_event(stack, cli, unique, queue):
    """Each events/api-*.json, with its names made unique (and the HMAC placeholder filled in), succeeds."""
    sqs, url = queue
    directory, cert = f"demo-{unique}", f"web-{unique}"
    body = json.loads(sample("api-put-directory.json")["body"])
    body.update(directory_url=stack.directory_url, eab_hmac_key=stack.hmac(body["eab_kid"]))
    put_body = json.loads(sample("api-put-certificate.json")["body"]) | {"directory": directory}
    put_body["domains"] = [f"{cert}.team-a.example.com"]  # inside the sample policy's allowed_domains
    rotate = json.loads(sample("api-post-directory-rotate.json")["body"])
    rotate.update(directory_url=stack.directory_url, eab_hmac_key=stack.hmac(rotate["eab_kid"]))
    steps = [
        ("api-put-directory.json", event("api-put-directory.json", name=directory, body=body), 201),
        ("api-get-directories.json", event("api-get-directories.json"), 200),
        ("api-get-directory.json", event("api-get-directory.json", name=directory), 200),
        ("api-put-directory-policy.json", event("api-put-directory-policy.json", name=directory), 200),
        ("api-post-directory-rotate.json", event("api-post-directory-rotate.json", name=directory, body=rotate), 200),
        ("api-put-certificate.json", event("api-put-certificate.json", name=cert, body=put_body), 201),
        ("api-get-certificates.json", event("api-get-certificates.json"), 200),
        ("api-get-certificate.json", event("api-get-certificate.json", name=cert), 200),
        ("api-post-certificate-reset.json", event("api-post-certificate-reset.json", name=cert), 200),
        ("api-post-certificate-renew.json", event("api-post-certificate-renew.json", name=cert), 202),
        ("api-post-certificate-revoke.json", event("api-post-certificate-revoke.json", name=cert), 200),
        ("api-delete-certificate.json", event("api-delete-certificate.json", name=cert), 200),
        ("api-post-directory-revoke.json", event("api-post-directory-revoke.json", name=directory), 200),
    ]
    from tests.e2e.api_client import ROOT

    assert {s[0] for s in steps} == {p.name for p in (ROOT / "events").glob("api-*.json")}
    for file, request, expected in steps:
        if file == "api-post-certificate-revoke.json":
            work_queue(stack, sqs, url)  # the renewal the previous step queued: now there is one to revoke
        reply = call(stack, request)
        assert reply.status == expected, (file, reply.body)


def test_an_unknown_route_is_404_in_the_error_format(stack):
    reply = call(stack, event("api-get-certificates.json", path="/certificate", query=None))
    assert reply.status == 404
    assert reply.body == {"error": "not_found", "message": "no route GET /certificate (routes: openapi.yaml)"}
    wrong_method = call(stack, event("api-get-certificates.json", method="POST", query=None))
    assert wrong_method.status == 404 and wrong_method.body["error"] == "not_found"


def test_an_unexpected_error_is_500_with_the_request_id_and_no_detail(stack, capsys):
    from acmevault.entrypoints.http.dependencies import services

    def broken() -> Any:
        raise RuntimeError("detail that must stay inside: s3cr3t-detail")

    request = event("api-get-directories.json")
    reply = call(stack, request, overrides={services: broken})
    assert reply.status == 500
    assert reply.body == {
        "error": "internal_error",
        "message": "something unexpected went wrong; the request id finds it in the logs",
        "request_id": request["requestContext"]["requestId"],
    }
    logged = capsys.readouterr().out
    assert "RuntimeError" in logged and "unexpected error" in logged
    assert "s3cr3t-detail" not in logged


def test_idempotency_records_live_beside_the_certificates_without_disturbing_them(stack, directory, unique):
    before = idempotency_records(stack)
    name = f"idem-{unique}"
    assert put_certificate(stack, name, directory).status == 201
    assert idempotency_records(stack) == before + 1
    ddb = stack.aws("dynamodb")
    item = ddb.get_item(TableName=stack.env["ACMEVAULT_TABLE"], Key={"pk": {"S": CERT_PK}, "sk": {"S": name}})
    assert item["Item"]["status"]["S"] == "pending"
