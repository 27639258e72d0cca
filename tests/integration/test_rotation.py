"""Directory rotation against real Pebble + moto server: account key rollover, lost-URL replacement,
marking a credential lost, the Secrets Manager rotation steps, and rotations killed part-way.

Pebble is asked what it thinks (which account a key controls, which serials are revoked); the
secret's version stages are read back from Secrets Manager; ACM ARNs are compared before and after.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from acmevault.adapters.acme.session import AcmeSession
from acmevault.adapters.aws.queue import IssueQueue
from acmevault.app.rotation import RotationServices
from acmevault.composition.config import Settings
from acmevault.composition.services import build, build_rotation
from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import CaError, RotationFailed, ValidationError
from acmevault_cli.local.invoke import find_function, invoke, load_event
from cryptography import x509

from tests.conftest import find_secrets

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PREFIX = "acmevault/acmevault-local/directories/"


# -- reading back what happened --------------------------------------------------------------------


def context(stack: Any, **env: str) -> RotationServices:
    """Rotation services with empty caches, as a new Lambda container (or CLI process) would have."""
    config = Settings.from_env({**stack.env, **env})
    assert config.queue_url is not None
    return build_rotation(config, build(config), IssueQueue(config.queue_url, config.region))


def stages(stack: Any, directory: str) -> dict[str, list[str]]:
    """Version id → staging labels, for the versions that have any."""
    described = stack.aws("secretsmanager").describe_secret(SecretId=PREFIX + directory)
    return {v: sorted(s) for v, s in described["VersionIdsToStages"].items() if s}


def labels(stack: Any, directory: str) -> list[str]:
    """Every staging label on the secret, sorted."""
    return sorted(label for stage_list in stages(stack, directory).values() for label in stage_list)


def version_with(stack: Any, directory: str, stage: str) -> str:
    return next(v for v, s in stages(stack, directory).items() if stage in s)


def secret(stack: Any, directory: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    value = stack.aws("secretsmanager").get_secret_value(SecretId=PREFIX + directory, VersionStage=stage)
    return dict(json.loads(value["SecretString"]))


def credential(data: dict[str, Any]) -> DirectoryCredential:
    return DirectoryCredential.from_secret(data)


def account_status(data: dict[str, Any]) -> str:
    """What Pebble answers to a request signed with this set's key for its account."""
    return AcmeSession(credential(data), data["account_key"]).account_status()


def refusal(data: dict[str, Any]) -> CaError:
    with pytest.raises(CaError) as refused:
        account_status(data)
    return refused.value


def pebble_status(stack: Any, serial: str) -> str:
    """Valid or Revoked, as Pebble's management API reports the serial."""
    context = ssl.create_default_context(cafile=str(stack.local.ca_bundle))
    url = f"{stack.local.management_url}/cert-status-by-serial/{serial}"
    with urllib.request.urlopen(url, context=context, timeout=5) as response:  # noqa: S310 - the local stack
        return str(json.loads(response.read())["Status"])


def record(stack: Any, name: str) -> dict[str, Any]:
    item = stack.aws("dynamodb").get_item(
        TableName=stack.env["ACMEVAULT_TABLE"], Key={"pk": {"S": "CERT"}, "sk": {"S": name}}
    )["Item"]
    return {
        "serial": item["serial"]["S"],
        "account_url": item["account_url"]["S"],
        "acm_arns": {k: v["S"] for k, v in item["acm_arns"]["M"].items()},
    }


def served_serial(stack: Any, arn: str) -> str:
    pem = stack.aws("acm").get_certificate(CertificateArn=arn)["Certificate"]
    return format(x509.load_pem_x509_certificate(pem.encode()).serial_number, "x")


def s3_serial(stack: Any, name: str) -> str:
    body = stack.aws("s3").get_object(Bucket=stack.env["ACMEVAULT_BUCKET"], Key=f"certificates/{name}/cert.pem")
    return format(x509.load_pem_x509_certificate(body["Body"].read()).serial_number, "x")


def inbox(stack: Any, variable: str) -> list[str]:
    sqs, url = stack.aws("sqs"), stack.env[variable]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [m["Body"] for m in messages]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return bodies


def events(stack: Any, detail_type: str, directory: str) -> list[dict[str, Any]]:
    found = [json.loads(e) for e in inbox(stack, "ACMEVAULT_LOCAL_EVENTS_QUEUE_URL")]
    return [e for e in found if e["detail-type"] == detail_type and e["detail"].get("directory") == directory]


def history(stack: Any, directory: str) -> list[dict[str, Any]]:
    return context(stack).records.history(directory, 200)


def assert_no_secret(stack: Any, *things: Any) -> None:
    """No EAB HMAC key, no PEM private key, no account key in what a person or system is shown."""
    text = json.dumps(things, default=str)
    assert not find_secrets(text), find_secrets(text)
    for kid in ("kid-1", "kid-2", "kid-3"):
        assert stack.hmac(kid) not in text


def issue(stack: Any, cli: Any, name: str, directory: str, *extra: str) -> dict[str, Any]:
    put = cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory, *extra)
    assert put.code == 0, put.err
    issued = cli("cert", "issue", name)
    assert issued.code == 0, issued.err
    return record(stack, name)


def run(stack: Any, function: str, event: Any) -> Any:
    """A function from template.yaml with an event, as sam local invoke would run it."""
    import logging
    import sys

    for handler in logging.getLogger("acmevault").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.stream = sys.stdout  # the Powertools logger keeps an earlier test's stdout otherwise
    return invoke(find_function(TEMPLATE, function), event, stack.env)


def rotation_event(stack: Any, step: str, directory: str, token: str) -> dict[str, Any]:
    event = dict(load_event(ROOT / f"events/rotate-{step}-secret.json"))
    event["SecretId"] = stack.aws("secretsmanager").describe_secret(SecretId=PREFIX + directory)["ARN"]
    event["ClientRequestToken"] = token
    return event


def renewed_event(name: str) -> dict[str, Any]:
    event = dict(load_event(ROOT / "events/rotate-certificate-renewed.json"))
    event["detail"] = {**event["detail"], "certificate": name}
    return event


def queued(stack: Any) -> list[dict[str, Any]]:
    """What the issue queue holds (taken off it)."""
    return [json.loads(b) for b in inbox(stack, "ACMEVAULT_QUEUE_URL")]


def work(stack: Any, bodies: list[dict[str, Any]]) -> None:
    """The issue worker (IssueFunction) with these messages, as SQS delivers a batch."""
    sample = load_event(ROOT / "events/issue-sqs.json")["Records"][0]
    records = [{**sample, "messageId": str(uuid.uuid4()), "body": json.dumps(b)} for b in bodies]
    assert run(stack, "IssueFunction", {"Records": records}) == {"batchItemFailures": []}


# -- account key rollover --------------------------------------------------------------------------


def test_key_rollover_new_key_issues_and_the_old_key_is_refused(stack, cli, directory, unique):
    # GIVEN a certificate issued through the directory's account
    name = f"roll-{unique}"
    before = issue(stack, cli, name, directory)
    old, old_version = secret(stack, directory), version_with(stack, directory, "AWSCURRENT")
    # WHEN the account key is rolled over
    rolled = cli("directory", "rotate", directory)
    # THEN the same account has a new key: AWSCURRENT holds it, AWSPREVIOUS the old one, nothing is pending
    assert rolled.code == 0, rolled.err
    assert "rolled over" in rolled.out
    new = secret(stack, directory)
    assert new["account_url"] == old["account_url"]
    assert new["account_key"] != old["account_key"]
    assert {k: v for k, v in new.items() if k != "account_key"} == {k: v for k, v in old.items() if k != "account_key"}
    assert secret(stack, directory, "AWSPREVIOUS") == old
    assert stages(stack, directory)[old_version] == ["AWSPREVIOUS"]
    assert labels(stack, directory) == ["AWSCURRENT", "AWSPREVIOUS"]
    # and Pebble refuses the old key and accepts the new one
    assert refusal(old).problem_type == "malformed"  # the signature does not verify against the account's key
    assert account_status(new) == "valid"
    # and a certificate issues with the new key, through the same account, into the same ACM ARN
    renewed = cli("cert", "renew", name)
    assert renewed.code == 0, renewed.err
    after = record(stack, name)
    assert after["serial"] != before["serial"]
    assert after["account_url"] == before["account_url"]
    assert after["acm_arns"] == before["acm_arns"]
    assert served_serial(stack, after["acm_arns"]["us-east-1"]) == after["serial"]
    # and the history says who did what, without a secret
    actions = [h["action"] for h in history(stack, directory)]
    assert {"rotation started", "credential staged", "account key rolled over at the CA", "rotation finished"} <= set(
        actions
    )
    assert_no_secret(stack, history(stack, directory), rolled.out, rolled.err)


def test_a_rollover_run_twice_rolls_twice_and_each_old_key_is_refused(stack, cli, directory):
    first = secret(stack, directory)
    assert cli("directory", "rotate", directory).code == 0
    second = secret(stack, directory)
    assert cli("directory", "rotate", directory).code == 0
    third = secret(stack, directory)
    assert len({first["account_key"], second["account_key"], third["account_key"]}) == 3
    assert refusal(first).problem_type == refusal(second).problem_type == "malformed"
    assert account_status(third) == "valid"


# -- the Secrets Manager rotation steps ------------------------------------------------------------


def test_the_four_rotation_steps_with_their_events_each_retried(stack, cli, directory, unique):
    # GIVEN an issued certificate, and a rotation token as Secrets Manager would make one
    name = f"steps-{unique}"
    issue(stack, cli, name, directory)
    token = str(uuid.uuid4())
    old, old_version = secret(stack, directory), version_with(stack, directory, "AWSCURRENT")
    inbox(stack, "ACMEVAULT_LOCAL_EVENTS_QUEUE_URL")

    def step(which: str) -> Any:
        return run(stack, "RotateFunction", rotation_event(stack, which, directory, token))

    # WHEN createSecret runs, and runs again with the same token
    assert step("create") == {"step": "createSecret", "done": True}
    staged = secret(stack, directory, "AWSPENDING")
    step("create")
    # THEN one pending set is staged, with a new key for the same account; the current one is untouched
    assert secret(stack, directory, "AWSPENDING") == staged
    assert stages(stack, directory)[token] == ["AWSPENDING"]
    assert staged["account_url"] == old["account_url"] and staged["account_key"] != old["account_key"]
    assert secret(stack, directory) == old
    # WHEN setSecret runs twice: the CA holds the new key (the retry finds it there and does nothing)
    step("set")
    step("set")
    assert account_status(staged) == "valid"
    assert refusal(old).problem_type == "malformed"
    # WHEN testSecret runs twice, then finishSecret twice
    step("test")
    step("test")
    assert secret(stack, directory) == old  # not current before finishSecret
    step("finish")
    step("finish")
    # THEN the new set is current, the old one previous, nothing pending
    assert stages(stack, directory)[token] == ["AWSCURRENT"]
    assert stages(stack, directory)[old_version] == ["AWSPREVIOUS"]
    assert "AWSPENDING" not in labels(stack, directory)
    # and issuance works with it
    assert cli("cert", "renew", name).code == 0
    assert record(stack, name)["account_url"] == old["account_url"]
    # and each step happened once: one key change, one event
    actions = [h["action"] for h in history(stack, directory) if h.get("token") == token]
    assert actions.count("account key rolled over at the CA") == 1
    assert actions.count("rotation finished") == 1
    rotated = events(stack, "Directory Rotated", directory)
    assert [e["detail"]["token"] for e in rotated] == [token]
    assert rotated[0]["detail"]["kind"] == "key-rollover"
    assert_no_secret(stack, rotated, history(stack, directory))


@pytest.mark.parametrize("missing", ["SecretId", "ClientRequestToken"])
def test_a_rotation_event_without_its_secret_or_token_is_refused_naming_the_field(stack, directory, missing):
    event = rotation_event(stack, "create", directory, str(uuid.uuid4()))
    del event[missing]
    before = stages(stack, directory)
    with pytest.raises(ValidationError, match=f"{missing}: is required"):
        run(stack, "RotateFunction", event)
    assert stages(stack, directory) == before


def test_a_failing_test_secret_leaves_the_current_credential_in_use(stack, cli, directory, unique):
    # GIVEN a new key staged by createSecret, but setSecret never ran: the CA does not know the key
    name = f"failtest-{unique}"
    issue(stack, cli, name, directory)
    token = str(uuid.uuid4())
    old_version = version_with(stack, directory, "AWSCURRENT")
    run(stack, "RotateFunction", rotation_event(stack, "create", directory, token))
    # WHEN testSecret runs, and is retried
    for _ in range(2):
        with pytest.raises(RotationFailed) as failed:
            run(stack, "RotateFunction", rotation_event(stack, "test", directory, token))
        assert "knows no account" in failed.value.message and "current one is unchanged" in failed.value.message
    # THEN AWSCURRENT has not moved, finishSecret refuses to move it, and issuance goes on with it
    assert stages(stack, directory)[old_version] == ["AWSCURRENT"]
    with pytest.raises(Exception, match="was not tested"):
        run(stack, "RotateFunction", rotation_event(stack, "finish", directory, token))
    assert stages(stack, directory)[old_version] == ["AWSCURRENT"]
    assert cli("cert", "renew", name).code == 0
    assert [h["outcome"] for h in history(stack, directory) if h["action"] == "pending credential tested"][:2] == [
        "failed",
        "failed",
    ]


def test_a_pending_credential_staged_by_hand_with_a_wrong_hmac_fails_test_secret(stack, cli, directory, unique):
    # GIVEN a new credential put into AWSPENDING by hand (as in the console), with a wrong HMAC key
    name = f"handstaged-{unique}"
    issue(stack, cli, name, directory)
    token = str(uuid.uuid4())
    old_version = version_with(stack, directory, "AWSCURRENT")
    wrong = {"directory_url": stack.directory_url, "eab_kid": "kid-2", "eab_hmac_key": stack.hmac("kid-3")}
    stack.aws("secretsmanager").put_secret_value(
        SecretId=PREFIX + directory,
        ClientRequestToken=token,
        SecretString=json.dumps(wrong),
        VersionStages=["AWSPENDING"],
    )
    # WHEN Secrets Manager runs the steps: createSecret takes it up as it is, setSecret has nothing to do
    run(stack, "RotateFunction", rotation_event(stack, "create", directory, token))
    run(stack, "RotateFunction", rotation_event(stack, "set", directory, token))
    # THEN testSecret fails, every time: no account was ever registered with that credential
    for _ in range(2):
        with pytest.raises(RotationFailed, match="has no ACME account"):
            run(stack, "RotateFunction", rotation_event(stack, "test", directory, token))
    # and AWSCURRENT is untouched and still works
    assert stages(stack, directory)[old_version] == ["AWSCURRENT"]
    assert cli("cert", "renew", name).code == 0


def test_a_replacement_the_ca_refuses_is_never_staged_and_the_old_credential_keeps_working(
    stack, cli, directory, unique
):
    # GIVEN an issued certificate
    name = f"refused-{unique}"
    before = issue(stack, cli, name, directory)
    old_version = version_with(stack, directory, "AWSCURRENT")
    # WHEN a replacement comes with a wrong HMAC key (kid-2 with kid-3's key)
    result = cli(
        "directory", "rotate", directory, "--url", stack.directory_url, "--eab-kid", "kid-2", stdin=stack.hmac("kid-3")
    )
    # THEN it is refused with the CA's reason, in one line
    assert result.code == 1
    assert "rejected the credential" in result.err
    # and nothing is pending (no AWSPENDING, no draft): the current credential is the same version
    assert stages(stack, directory) == {old_version: ["AWSCURRENT"]}
    # and it keeps issuing through the same account
    assert cli("cert", "renew", name).code == 0
    assert record(stack, name)["account_url"] == before["account_url"]
    assert history(stack, directory)[0]["action"] == "rotation abandoned"
    assert_no_secret(stack, history(stack, directory), result.out, result.err)


# -- lost credential: mark lost, replace, re-issue, revoke the old certificates --------------------


def test_a_lost_credential_is_marked_lost_replaced_and_every_certificate_reissued(stack, cli, directory, unique):
    # GIVEN three certificates issued through the directory's account (three key types), and one
    # through another directory
    names = {f"lost{i}-{unique}": kt for i, kt in enumerate(("ec-p256", "rsa-2048", "ec-p384"))}
    before = {n: issue(stack, cli, n, directory, "--key-type", kt) for n, kt in names.items()}
    other_directory = f"other-{unique}"
    assert (
        cli("directory", "put", other_directory, "--url", stack.directory_url, "--eab-kid", "kid-1", stdin=stack.hmac())
    ).code == 0
    bystander = issue(stack, cli, f"bystander-{unique}", other_directory)
    old, old_version = secret(stack, directory), version_with(stack, directory, "AWSCURRENT")
    for variable in ("ACMEVAULT_LOCAL_EVENTS_QUEUE_URL", "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL", "ACMEVAULT_QUEUE_URL"):
        inbox(stack, variable)

    # WHEN the credential is marked lost
    revoked = cli("directory", "revoke", directory, "--reason", "HMAC key pasted into a ticket")
    assert revoked.code == 0, revoked.err
    # THEN Pebble refuses its account (deactivated), and issuance from it stops, saying what to do
    assert refusal(old).problem_type == "unauthorized"
    refused = cli("cert", "issue", next(iter(names)))
    assert refused.code == 1
    assert "marked lost" in refused.err and f"acmevault directory rotate {directory} --url URL" in refused.err
    # and people are told (an event, an SNS alert), without a secret
    told = events(stack, "Directory Revoked", directory)
    assert len(told) == 1 and told[0]["detail"]["account_url"] == old["account_url"]
    alerts = [a for a in inbox(stack, "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL") if "was marked lost by" in a]
    assert len(alerts) == 1 and directory in alerts[0]
    assert "nothing is issued from it until it is replaced" in alerts[0]
    # and the certificates it issued are still valid and served
    assert all(pebble_status(stack, b["serial"]) == "Valid" for b in before.values())

    # WHEN a new URL, KID and HMAC replace it, the old certificates to be revoked once replaced
    rotated = cli(
        "directory",
        "rotate",
        directory,
        "--url",
        stack.directory_url,
        "--eab-kid",
        "kid-2",
        "--revoke-previous",
        stdin=stack.hmac("kid-2"),
    )
    assert rotated.code == 0, rotated.err
    # THEN the new credential is current with a new account, the old one previous, nothing pending
    new = secret(stack, directory)
    assert new["eab_kid"] == "kid-2" and new["account_url"] != old["account_url"]
    assert account_status(new) == "valid"
    assert secret(stack, directory, "AWSPREVIOUS") == old
    assert stages(stack, directory)[old_version] == ["AWSPREVIOUS"]
    assert labels(stack, directory) == ["AWSCURRENT", "AWSPREVIOUS"]
    # and exactly the old account's certificates are queued, none revoked yet
    bodies = queued(stack)
    assert sorted(b["certificate"] for b in bodies) == sorted(names)
    assert {b["reason"] for b in bodies} == {"directory-rotated"}
    assert all(pebble_status(stack, b["serial"]) == "Valid" for b in before.values())
    # and a revocation follow-up now revokes nothing: no replacement is served yet
    for name in names:
        assert run(stack, "RotateFunction", renewed_event(name)) == {"revoked": []}
    assert all(pebble_status(stack, b["serial"]) == "Valid" for b in before.values())

    # WHEN the issue worker gets the messages (IssueFunction, as SQS delivers them)
    work(stack, bodies)
    # THEN each has a new certificate from the new account, in the same ACM ARN and in S3, and valid
    after = {n: record(stack, n) for n in names}
    for name in names:
        assert after[name]["serial"] != before[name]["serial"]
        assert after[name]["account_url"] == new["account_url"]
        assert after[name]["acm_arns"] == before[name]["acm_arns"]
        assert served_serial(stack, after[name]["acm_arns"]["us-east-1"]) == after[name]["serial"]
        assert s3_serial(stack, name) == after[name]["serial"]
        assert pebble_status(stack, after[name]["serial"]) == "Valid"
        assert pebble_status(stack, before[name]["serial"]) == "Valid"  # not before the follow-up

    # WHEN the rotate function hears of each renewal (the EventBridge rule in AWS)
    for name in names:
        assert run(stack, "RotateFunction", renewed_event(name)) == {"revoked": [name]}
        # THEN the replaced certificate is revoked at Pebble; the one served is not
        assert pebble_status(stack, before[name]["serial"]) == "Revoked"
        assert pebble_status(stack, served_serial(stack, after[name]["acm_arns"]["us-east-1"])) == "Valid"
    # and a second notice revokes nothing more
    assert run(stack, "RotateFunction", renewed_event(next(iter(names)))) == {"revoked": []}
    # and the other directory's certificate was neither re-issued nor revoked
    assert record(stack, f"bystander-{unique}") == bystander
    assert pebble_status(stack, bystander["serial"]) == "Valid"
    # and the directory shows it all, without a secret
    shown = cli("directory", "show", directory, "--json")
    view = json.loads(shown.out)
    assert view["state"] == "active" and view["marked_lost"] is None and view["revocations_waiting"] == []
    assert view["rotation"]["outcome"] == "rotated" and view["rotation"]["revoke_previous"] is True
    actions = {h["action"] for h in view["history"]}
    assert {
        "marked lost",
        "credential staged",
        "new credential made current",
        "certificates queued for re-issue",
        "previous account deactivated",
        "rotation finished",
        "previous certificate revoked",
    } <= actions
    rotated_events = events(stack, "Directory Rotated", directory)
    assert len(rotated_events) == 1 and rotated_events[0]["detail"]["previous_account_url"] == old["account_url"]
    assert_no_secret(stack, view, rotated_events, told, alerts, revoked.out, rotated.out, history(stack, directory))


def test_rollover_of_a_lost_directory_is_refused_until_it_is_replaced(stack, cli, directory):
    assert cli("directory", "revoke", directory).code == 0
    rolled = cli("directory", "rotate", directory)
    assert rolled.code == 1
    assert "marked lost" in rolled.err
    again = cli("directory", "revoke", directory)  # marking it lost twice is fine
    assert again.code == 0


def test_rotate_input_is_checked_before_anything_happens(stack, cli, directory, state):
    before = state()
    cases = [
        (["--eab-kid", "kid-2"], "needs its directory URL"),
        (["--revoke-previous"], "applies to a replaced credential"),
        (["--url", stack.directory_url, "--eab-kid", "kid-2", "--certcentral"], "not both"),
        (["--url", "http://127.0.0.1/dir", "--eab-kid", "kid-2"], "directory_url"),
    ]
    for argv, message in cases:
        result = cli("directory", "rotate", directory, *argv, stdin=stack.hmac("kid-2"))
        assert result.code == 2, (argv, result.err)
        assert message in result.err
    assert cli("directory", "rotate", directory, "--eab-hmac-key", "x" * 24).code == 2
    assert state() == before
    missing = cli("directory", "rotate", "no-such-directory")
    assert missing.code == 1 and "does not exist" in missing.err


def test_rotating_needs_no_secret_on_the_command_line_and_prints_none(stack, cli, directory):
    result = cli(
        "directory", "rotate", directory, "--url", stack.directory_url, "--eab-kid", "kid-3", stdin=stack.hmac("kid-3")
    )
    assert result.code == 0, result.err
    assert_no_secret(stack, result.out, result.err)
    shown = cli("directory", "show", directory)
    assert shown.code == 0 and "history (newest first):" in shown.out
    assert_no_secret(stack, shown.out)


# -- killed part-way, then run again --------------------------------------------------------------


class Killed(BaseException):
    """The process dies here (not an error acmevault could catch and clean up after)."""


def kill_after(monkeypatch: Any, owner: Any, method: str, when: Any = None) -> dict[str, Any]:
    """Let ``owner.method`` do its work, then kill the process, the first time ``when(args)`` holds."""
    original = getattr(owner, method)
    seen: dict[str, Any] = {"killed": False, "results": []}

    def dying(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        seen["results"].append(result)
        if not seen["killed"] and (when is None or when(args)):
            seen["killed"] = True
            raise Killed(method)
        return result

    monkeypatch.setattr(owner, method, dying)
    return seen


def _secrets_cls() -> Any:
    from acmevault.adapters.aws.secrets import DirectorySecrets

    return DirectorySecrets


def _records_cls() -> Any:
    from acmevault.adapters.aws.directory_table import DynamoDirectoryRecords

    return DynamoDirectoryRecords


KILL_POINTS = {
    # replacement
    "replacement: after its draft is saved": (
        "replacement",
        _secrets_cls,
        "put_version",
        lambda a: a[4] == "ACMEVAULT_DRAFT",
    ),
    "replacement: after its account is registered": ("replacement", lambda: AcmeSession, "register", None),
    "replacement: after it is staged": ("replacement", _secrets_cls, "put_version", lambda a: a[4] == "AWSPENDING"),
    "replacement: after it is tested": (
        "replacement",
        _records_cls,
        "save_rotation",
        lambda a: "tested" in a[2].done and "promoted" not in a[2].done,
    ),
    "replacement: after it is made current": ("replacement", _secrets_cls, "promote", None),
    "replacement: after the re-issues are queued": ("replacement", lambda: IssueQueue, "send", None),
    "replacement: after the old account is deactivated": ("replacement", lambda: AcmeSession, "deactivate", None),
    # key rollover
    "rollover: after it is staged": ("rollover", _secrets_cls, "put_version", lambda a: a[4] == "AWSPENDING"),
    "rollover: after the key change at the CA": ("rollover", lambda: AcmeSession, "change_key", None),
    "rollover: after it is made current": ("rollover", _secrets_cls, "promote", None),
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_rotation_killed_between_two_steps_ends_consistent_when_run_again(
    stack, cli, directory, unique, monkeypatch, point
):
    from acmevault.app.rotation import NewCredential, replace_credential, rotate_account_key

    kind, owner, method, when = KILL_POINTS[point]
    # GIVEN a certificate issued through the directory's account
    name = f"kill-{unique}"
    before = issue(stack, cli, name, directory)
    old, old_version = secret(stack, directory), version_with(stack, directory, "AWSCURRENT")
    inbox(stack, "ACMEVAULT_QUEUE_URL")
    new_credential = DirectoryCredential(stack.directory_url, "kid-2", stack.hmac("kid-2"))

    def rotate() -> Any:
        ctx = context(stack)  # a new process each time: nothing cached
        if kind == "rollover":
            return rotate_account_key(directory, ctx, "test")
        return replace_credential(directory, NewCredential(new_credential, revoke_previous=True), ctx, "test")

    # WHEN the rotation is killed at that point
    seen = kill_after(monkeypatch, owner(), method, when)
    with pytest.raises(Killed):
        rotate()
    monkeypatch.undo()
    # and run again
    done = rotate()
    # THEN it is finished: the new set current, the old one previous, nothing pending or drafted
    assert done.outcome == "rotated"
    assert labels(stack, directory) == ["AWSCURRENT", "AWSPREVIOUS"]
    assert stages(stack, directory)[old_version] == ["AWSPREVIOUS"]
    new = secret(stack, directory)
    assert account_status(new) == "valid"
    if kind == "rollover":
        assert new["account_url"] == old["account_url"] and new["account_key"] != old["account_key"]
        assert refusal(old).problem_type == "malformed"
    else:
        assert new["eab_kid"] == "kid-2" and new["account_url"] != old["account_url"]
        assert refusal(old).problem_type == "unauthorized"  # deactivated
        if method == "register":
            assert seen["results"][0] == new["account_url"]  # the resumed registration found the same account
        assert name in [b["certificate"] for b in queued(stack)]
        entries = context(stack).records.revocations(directory, name)
        assert [(e.serial, e.state) for e in entries] == [(before["serial"], "waiting")]
    # and the next certificate comes from the account now in use, into the same ARN
    assert cli("cert", "renew", name).code == 0
    after = record(stack, name)
    assert after["account_url"] == new["account_url"] and after["acm_arns"] == before["acm_arns"]
    actions = [h["action"] for h in history(stack, directory) if h.get("token") == done.token]
    assert actions.count("rotation finished") == 1
    assert actions.count("new credential made current") == 1


def test_a_set_secret_killed_after_the_key_change_is_finished_by_its_retry(stack, cli, directory, monkeypatch):
    # GIVEN Secrets Manager's rotation, its setSecret killed once the CA holds the new key
    token = str(uuid.uuid4())
    old = secret(stack, directory)
    run(stack, "RotateFunction", rotation_event(stack, "create", directory, token))
    kill_after(monkeypatch, AcmeSession, "change_key")
    with pytest.raises(Killed):
        run(stack, "RotateFunction", rotation_event(stack, "set", directory, token))
    monkeypatch.undo()
    assert refusal(old).problem_type == "malformed"  # the CA moved on; AWSCURRENT has not yet
    # WHEN Secrets Manager retries the step, then goes on
    for step in ("set", "test", "finish"):
        run(stack, "RotateFunction", rotation_event(stack, step, directory, token))
    # THEN the key the CA holds is the current one
    assert stages(stack, directory)[token] == ["AWSCURRENT"]
    assert account_status(secret(stack, directory)) == "valid"


def test_a_new_rotation_finishes_a_rollover_the_ca_already_took(stack, cli, directory, monkeypatch):
    # GIVEN a scheduled rollover that died after the key change, never retried
    token = str(uuid.uuid4())
    run(stack, "RotateFunction", rotation_event(stack, "create", directory, token))
    kill_after(monkeypatch, AcmeSession, "change_key")
    with pytest.raises(Killed):
        run(stack, "RotateFunction", rotation_event(stack, "set", directory, token))
    monkeypatch.undo()
    # WHEN a person replaces the credential (its old account must be deactivated with the key the CA holds)
    result = cli(
        "directory", "rotate", directory, "--url", stack.directory_url, "--eab-kid", "kid-3", stdin=stack.hmac("kid-3")
    )
    # THEN the rollover was finished first, so the old account could be deactivated
    assert result.code == 0, result.err
    rolled = secret(stack, directory, "AWSPREVIOUS")
    assert rolled == secret_version(stack, directory, token)
    assert refusal(rolled).problem_type == "unauthorized"
    assert secret(stack, directory)["eab_kid"] == "kid-3"


def secret_version(stack: Any, directory: str, version: str) -> dict[str, Any]:
    value = stack.aws("secretsmanager").get_secret_value(SecretId=PREFIX + directory, VersionId=version)
    return dict(json.loads(value["SecretString"]))


# -- CertCentral (a local fake of its Services API) ------------------------------------------------


@pytest.fixture
def certcentral(stack: Any, unique: str) -> Any:
    import secrets as random

    from tests.conftest import register_secret
    from tests.fakes.certcentral import FakeCertCentral

    fake = FakeCertCentral(stack.local, api_key=random.token_urlsafe(24)).start()
    register_secret(fake.api_key)
    secret_name = f"acmevault-certcentral-{unique}"
    settings = {
        "api_key": fake.api_key,
        "base_url": fake.base_url,
        "organization_id": 112233,
        "product_name_id": "ssl_plus",
        "validity_days": 90,
    }
    stack.aws("secretsmanager").create_secret(Name=secret_name, SecretString=json.dumps(settings))
    yield fake, context(stack, ACMEVAULT_CERTCENTRAL_SECRET=secret_name)
    fake.stop()


def test_certcentral_makes_the_new_credential_and_revokes_the_lost_one(stack, cli, directory, unique, certcentral):
    from acmevault.app.rotation import NewCredential, mark_lost, replace_credential

    fake, ctx = certcentral
    name = f"cc-{unique}"
    before = issue(stack, cli, name, directory)
    # WHEN a lost-URL rotation asks CertCentral for the new credential
    first = replace_credential(directory, NewCredential(None), ctx, "test")
    # THEN CertCentral made one (with the secret's product, organization and validity), and it is current
    method, path, body = fake.requests[0]
    assert (method, path) == ("POST", "/services/v2/key/acme-url")
    assert body["organization_id"] == 112233 and body["product_name_id"] == "ssl_plus" and body["validity_days"] == 90
    current = secret(stack, directory)
    assert current["eab_kid"] == fake.keys[first.certcentral_key_id]["eab_kid"]
    assert account_status(current) == "valid"
    assert first.source == "certcentral" and name in [b["certificate"] for b in queued(stack)]
    # WHEN that one is lost in turn, and Secrets Manager's scheduled rotation runs (CertCentral replaces it)
    mark_lost(directory, ctx, "test", "leaked")
    token = str(uuid.uuid4())
    for step in ("create", "set", "test", "finish"):
        run_with_certcentral(stack, ctx, rotation_event(stack, step, directory, token))
    # THEN CertCentral was asked for the lost one's settings, made a new one, and revoked the lost one
    paths = [(m, p) for m, p, _ in fake.requests]
    assert ("GET", f"/services/v2/key/{first.certcentral_key_id}") in paths
    assert ("PUT", f"/services/v2/key/{first.certcentral_key_id}/revoke") in paths
    assert fake.keys[first.certcentral_key_id]["status"] == "revoked"
    second = secret(stack, directory)
    assert stages(stack, directory)[token] == ["AWSCURRENT"]
    assert second["account_url"] not in (current["account_url"], before["account_url"])
    assert context(stack).records.state(directory).status.value == "active"
    assert_no_secret(stack, history(stack, directory), fake.keys)
    assert fake.api_key not in json.dumps(history(stack, directory))


def run_with_certcentral(stack: Any, ctx: RotationServices, event: dict[str, Any]) -> None:
    """A rotation step as functions/rotate runs it, with CertCentral configured for the function."""
    from acmevault.app.rotation import run_step

    run_step(event["SecretId"], event["ClientRequestToken"], event["Step"], ctx)


def test_a_certcentral_api_key_it_refuses_stages_nothing(stack, cli, directory, certcentral):
    from acmevault.app.rotation import NewCredential, replace_credential
    from acmevault.domain.errors import CredentialRejected

    fake, ctx = certcentral
    fake.api_key = "not-the-key"
    old_version = version_with(stack, directory, "AWSCURRENT")
    with pytest.raises(CredentialRejected, match="API key was refused"):
        replace_credential(directory, NewCredential(None), ctx, "test")
    assert stages(stack, directory) == {old_version: ["AWSCURRENT"]}


def test_without_certcentral_configured_a_rotation_asking_for_it_is_refused(stack, cli, directory):
    result = cli("directory", "rotate", directory, "--certcentral")
    assert result.code == 2 and "CertCentral is not configured" in result.err


# -- the rotation schedule -------------------------------------------------------------------------


def test_a_newly_vaulted_directory_is_put_on_the_rotation_schedule(stack, unique):
    import io
    import zipfile

    # GIVEN a function standing in for RotateFunction (moto checks that the ARN exists; it never runs it)
    role = stack.aws("iam").create_role(RoleName=f"rotate-{unique}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return None\n")
    function = stack.aws("lambda").create_function(
        FunctionName=f"rotate-{unique}",
        Runtime="python3.13",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    config = Settings.from_env(
        {**stack.env, "ACMEVAULT_ROTATION_LAMBDA_ARN": function, "ACMEVAULT_ROTATION_SCHEDULE": "rate(30 days)"}
    )
    # WHEN a directory is vaulted with ACMEVAULT_ROTATION_LAMBDA_ARN set
    name = f"sched-{unique}"
    build(config).accounts.vault(name, DirectoryCredential(stack.directory_url, "kid-1", stack.hmac()))
    # THEN Secrets Manager rotates it with that function
    described = stack.aws("secretsmanager").describe_secret(SecretId=PREFIX + name)
    assert described["RotationLambdaARN"] == function
