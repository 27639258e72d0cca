"""The Lambda handlers from template.yaml, run with the sample events in events/ (as sam local invoke would)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from acmevault_cli.local.invoke import find_function, invoke, load_event
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def run(stack: Any, function: str, event: Any) -> Any:
    return invoke(find_function(TEMPLATE, function), event, stack.env)


def status(cli: Any, name: str) -> dict[str, Any]:
    shown = cli("cert", "show", name, "--json")
    assert shown.code == 0, shown.err
    return json.loads(shown.out)


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Receive and delete every message in the queue; return their bodies."""
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [json.loads(m["Body"]) for m in messages]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return bodies


@pytest.fixture
def queue(stack: Any) -> Any:
    sqs = stack.aws("sqs")
    url = stack.env["ACMEVAULT_QUEUE_URL"]
    drain(sqs, url)
    yield sqs, url
    drain(sqs, url)


def test_every_function_has_a_sample_event_that_parses():
    from acmevault_cli.local.invoke import functions

    defined = functions(TEMPLATE)
    assert {"RenewFunction", "IssueFunction"} <= set(defined)
    for definition in defined.values():
        events = list((ROOT / "events").glob(f"{definition.code_dir.name}-*.json"))
        assert events, f"no sample event for {definition.logical_id} in events/"
        for path in events:
            load_event(path)


def test_issue_function_with_its_sample_event(stack, cli, directory):
    assert cli("cert", "put", "web", "-d", "www.example.com", "-d", "example.com", "--directory", directory).code == 0
    result = run(stack, "IssueFunction", load_event(ROOT / "events/issue-sqs.json"))
    assert result == {"batchItemFailures": []}
    assert status(cli, "web")["status"] == "issued"


def test_only_a_transient_failure_goes_back_to_the_queue(stack, cli, directory, unique):
    # GIVEN the sample batch: one certificate whose CA is down, one that is fine, one nobody defined
    event = load_event(ROOT / "events/issue-sqs-batch.json")
    names = [json.loads(r["body"])["certificate"] for r in event["Records"]]
    down = f"down-{unique}"
    sm = stack.aws("secretsmanager")
    secret_id = f"acmevault/acmevault-local/directories/{directory}"
    secret = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    sm.create_secret(
        Name=f"acmevault/acmevault-local/directories/{down}",
        SecretString=json.dumps({**secret, "directory_url": "https://127.0.0.1:9/dir"}),
    )
    for name in names:
        cli("cert", "delete", name)  # new certificates: due at once
    assert cli("cert", "put", names[0], "-d", f"{names[0]}.example.org", "--directory", down).code == 0
    assert cli("cert", "put", names[1], "-d", f"{names[1]}.example.org", "--directory", directory).code == 0
    # WHEN the issue function gets the batch
    result = run(stack, "IssueFunction", event)
    # THEN only the one that may succeed later goes back to SQS; the defined one is issued; the
    # undefined one is dropped (retrying cannot help), and the unreachable CA is on the record
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert status(cli, names[1])["status"] == "issued"
    failed = status(cli, names[0])
    assert failed["status"] == "failed"
    assert "cannot reach the CA" in failed["last_error"]


def test_a_malformed_issue_message_is_kept_for_the_dead_letter_queue(stack, cli, directory, unique, state):
    # GIVEN a batch: a good message, and one for the same name with a trailing newline (once read as "web")
    name = f"msg-{unique}"
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    event = load_event(ROOT / "events/issue-sqs-batch.json")
    good, bad = copy.deepcopy(event["Records"][0]), copy.deepcopy(event["Records"][1])
    good["body"] = json.dumps({"certificate": name, "reason": "on-demand"})
    bad["body"] = json.dumps({"certificate": f"{name}\n", "reason": "on-demand"})
    # WHEN the issue function gets it
    result = run(stack, "IssueFunction", {"Records": [good, bad]})
    # THEN the good one is issued; the malformed one is neither dropped nor read as another name:
    # it goes back to the queue, and to the dead-letter queue after the redrive count
    assert result == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    issued = status(cli, name)
    assert issued["status"] == "issued"
    before = state()
    with pytest.raises(BatchProcessingError):  # alone in its batch: the whole batch failed
        run(stack, "IssueFunction", {"Records": [bad]})
    assert state() == before


def test_renew_function_queues_what_is_due(stack, cli, directory, unique, queue):
    sqs, url = queue
    # GIVEN a new certificate (due at once) and an issued one (not due for two months)
    assert cli("cert", "put", f"due-{unique}", "-d", f"due-{unique}.example.com", "--directory", directory).code == 0
    assert (
        cli("cert", "put", f"fresh-{unique}", "-d", f"fresh-{unique}.example.com", "--directory", directory).code == 0
    )
    assert cli("cert", "issue", f"fresh-{unique}").code == 0
    # WHEN the schedule fires
    result = run(stack, "RenewFunction", load_event(ROOT / "events/renew-schedule.json"))
    # THEN the due one is queued and the fresh one is not
    bodies = drain(sqs, url)
    queued = {b["certificate"] for b in bodies}
    assert result["queued"] == len(bodies)
    assert f"due-{unique}" in queued
    assert f"fresh-{unique}" not in queued


def test_local_invoke_from_the_command_line(stack, cli, tmp_path, unique):
    # a message that is not one of ours: the whole batch failed, reported as Lambda reports it
    sample = load_event(ROOT / "events/issue-sqs.json")
    sample["Records"][0]["body"] = "not json"
    event = tmp_path / "event.json"
    event.write_text(json.dumps(sample))
    result = cli(
        "local",
        "invoke",
        "issue",
        "-e",
        str(event),
        "-t",
        str(TEMPLATE),
        "--state-dir",
        stack.env["ACMEVAULT_LOCAL_STATE"],
    )
    assert result.code == 1
    error = json.loads(result.out[result.out.index('{\n  "errorMessage"') :])
    assert error["errorType"] == "BatchProcessingError"
    assert "All records failed processing" in error["errorMessage"]


def test_local_invoke_names_an_unknown_function(cli, stack):
    result = cli(
        "local",
        "invoke",
        "nope",
        "-e",
        "events/issue-sqs.json",
        "-t",
        str(TEMPLATE),
        "--state-dir",
        stack.env["ACMEVAULT_LOCAL_STATE"],
    )
    assert result.code == 1
    assert "no function 'nope'" in result.err and "IssueFunction" in result.err
