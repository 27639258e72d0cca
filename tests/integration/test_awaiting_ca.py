"""Orders the CA keeps "processing" (DigiCert approval): the awaiting_ca state, against real Pebble.

A CA that holds orders is the fault proxy in front of Pebble with an OrderHold: Pebble's valid
order reaches the client as "processing" with Retry-After until the hold ends. Waiting is not a
failure: no failure count, no "Certificate Renewal Failed", no SNS failure alert, no failed SQS
batch item (so nothing towards the dead-letter queue); the worker comes back through a delayed message.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from acmevault.app.renewal import work
from acmevault.app.views import certificate_view
from acmevault.domain.certificate import Status
from acmevault.domain.issue_message import IssueMessage
from acmevault_cli.local.invoke import find_function, invoke, load_event

from tests.reliability.fault_proxy import FaultProxy, OrderHold
from tests.reliability.helpers import define, domain, fresh_services, serial_of, vault

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def proxy(stack: Any) -> Any:
    proxy = FaultProxy(stack.local, seed=1).start()  # no random faults: only the hold
    try:
        yield proxy
    finally:
        proxy.stop()


def inbox(stack: Any, variable: str, wait: int = 0) -> list[str]:
    sqs, url = stack.aws("sqs"), stack.env[variable]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get("Messages"):
        bodies += [m["Body"] for m in messages]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        wait = 0
    return bodies


def events_for(stack: Any, name: str) -> list[dict[str, Any]]:
    found = [json.loads(e) for e in inbox(stack, "ACMEVAULT_LOCAL_EVENTS_QUEUE_URL")]
    return [e for e in found if e["detail"].get("certificate") == name]


def alerts_for(stack: Any, name: str) -> list[str]:
    return [a for a in inbox(stack, "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL") if name in a]


def dead_letters(stack: Any) -> int:
    sqs = stack.aws("sqs")
    url = sqs.get_queue_url(QueueName="acmevault-local-issue-dlq")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def issue_function(stack: Any, body: dict[str, Any], timeout: int) -> Any:
    """IssueFunction with one message, as SQS delivers it, in a Lambda with ``timeout`` seconds."""
    sample = load_event(ROOT / "events/issue-sqs.json")["Records"][0]
    event = {"Records": [{**sample, "messageId": str(uuid.uuid4()), "body": json.dumps(body)}]}
    return invoke(replace(find_function(ROOT / "template.yaml", "IssueFunction"), timeout=timeout), event, stack.env)


def prevalidate(cli: Any, name: str, directory: str) -> None:
    """The account holds a valid authorization for the name (Pebble reuses them), as DigiCert holds a
    pre-validated domain: the held order then goes straight to finalize, with no dns-01 to prove."""
    helper = f"pre-{name}"
    assert cli("cert", "put", helper, "-d", domain(name), "--directory", directory).code == 0
    assert cli("cert", "issue", helper).code == 0
    assert cli("cert", "delete", helper).code == 0


def show(cli: Any, name: str) -> dict[str, Any]:
    shown = cli("cert", "show", name, "--json")
    assert shown.code == 0, shown.err
    return dict(json.loads(shown.out))


def test_an_order_held_for_approval_is_waited_for_across_short_invocations_and_then_issued(stack, cli, unique, proxy):
    # GIVEN a CA that holds each order "processing" for 7 s with Retry-After 2, and a new certificate
    directory, name = f"approval-{unique}", f"held-{unique}"
    vault(cli, stack, directory, proxy.directory_url, "kid-1")
    define(cli, name, directory)
    prevalidate(cli, name, directory)
    for variable in ("ACMEVAULT_QUEUE_URL", "ACMEVAULT_LOCAL_EVENTS_QUEUE_URL", "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL"):
        inbox(stack, variable)
    dlq_before = dead_letters(stack)
    proxy.hold = OrderHold(retry_after=2, seconds=7)
    body: dict[str, Any] = {"certificate": name, "reason": "on-demand"}
    waits: list[dict[str, Any]] = []

    # WHEN the issue function gets the message, in Lambdas of 13 s (a 3 s budget after the safety margin)
    for _ in range(10):
        result = issue_function(stack, body, timeout=13)
        # THEN no invocation fails its message: nothing goes back to SQS or towards the dead-letter queue
        assert result == {"batchItemFailures": []}
        view = show(cli, name)
        if view["status"] == "issued":
            break
        # and while the CA holds the order, the certificate is awaiting_ca, with no failure on it
        assert view["status"] == "awaiting_ca", view
        assert view["consecutive_failures"] == 0 and view["last_error"] is None
        assert view["awaiting_since"] is not None and view["waiting_for_seconds"] >= 0
        assert view["next_check_at"] > view["awaiting_since"]
        waits.append(view)
        # and the worker comes back through one new message, delayed until the CA's Retry-After
        queued = inbox(stack, "ACMEVAULT_QUEUE_URL", wait=5)
        assert [json.loads(b) for b in queued] == [body]
    else:
        raise AssertionError("the certificate was not issued after 10 invocations")

    # THEN it waited across several invocations, one wait from the same start, for one order
    assert len(waits) >= 2 and proxy.held_answers >= 2
    assert {w["awaiting_since"] for w in waits} == {waits[0]["awaiting_since"]}
    assert len(proxy.orders_for(domain(name))) == 2  # the pre-validating one, and the one held
    # and it ends issued from that order, served from ACM and S3, with the wait cleared
    issued = show(cli, name)
    assert issued["awaiting_since"] is None and issued["next_check_at"] is None and issued["serial"]
    s3 = stack.aws("s3").get_object(Bucket=stack.env["ACMEVAULT_BUCKET"], Key=f"certificates/{name}/cert.pem")
    assert serial_of(s3["Body"].read().decode()) == issued["serial"]
    assert issued["issuer_directory_url"] == proxy.directory_url
    # and people were told of the issue, never of a failure (the wait was short of ApprovalAlertHours)
    told = [e["detail-type"] for e in events_for(stack, name)]
    assert told == ["Certificate Issued"]
    assert alerts_for(stack, name) == []
    assert inbox(stack, "ACMEVAULT_QUEUE_URL") == []
    assert dead_letters(stack) == dlq_before


def test_a_multi_day_wait_alerts_once_a_day_after_the_threshold_and_a_refusal_is_a_real_failure(
    stack, cli, unique, proxy
):
    # GIVEN a certificate whose order the CA holds until told otherwise (Retry-After: an hour)
    directory, name = f"approval-{unique}", f"long-{unique}"
    vault(cli, stack, directory, proxy.directory_url, "kid-1")
    define(cli, name, directory)
    prevalidate(cli, name, directory)
    for variable in ("ACMEVAULT_LOCAL_EVENTS_QUEUE_URL", "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL"):
        inbox(stack, variable)
    proxy.hold = OrderHold(retry_after=3600)
    start = datetime.now(UTC)
    clock = {"now": start}
    services = fresh_services(stack, clock=lambda: clock["now"])  # ApprovalAlertHours: the default, 24
    message = IssueMessage(name, "on-demand")
    told_at: list[float] = []

    # WHEN the worker looks at it again and again over 60 simulated hours
    while clock["now"] < start + timedelta(hours=60):
        outcome = work(message, services, time.monotonic() + 3)
        assert outcome == "awaiting_ca"
        cert = services.certificates.get(name)
        # THEN each look is a wait, not a failure, and the next one is no later than 15 minutes on
        assert cert.state.status is Status.AWAITING_CA and cert.state.consecutive_failures == 0
        assert cert.state.awaiting_since == start
        assert cert.state.retry_at == clock["now"] + timedelta(seconds=900)  # Retry-After 3600, capped
        view = certificate_view(cert, now=clock["now"])
        assert view["waiting_for_seconds"] == int((clock["now"] - start).total_seconds())
        assert view["waiting_for"].endswith(("s", "m", "h"))
        for event in events_for(stack, name):
            assert event["detail-type"] == "Certificate Awaiting Approval"
            told_at.append(event["detail"]["waiting_hours"])
        clock["now"] += timedelta(hours=2, minutes=30)  # the checks of the hours between change nothing

    # THEN people were told once the wait passed 24 hours and once a day after: at 25, 50 hours
    assert told_at == [25.0, 50.0]
    actions = [h["action"] for h in services.certificates.history(name)]
    assert actions.count("awaiting the CA") == 1  # when the wait began: the audit trail, not every look
    assert actions.count("still awaiting the CA (people told)") == 2
    alerts = alerts_for(stack, name)
    assert len(alerts) == 2 and all("processing since" in a and "approv" in a for a in alerts)
    assert len(proxy.orders_for(domain(name))) == 2  # the pre-validating one, and the one held

    # WHEN the approver refuses: the CA marks the order invalid
    proxy.hold.released, proxy.hold.refusal = True, "the request was rejected by the approver"
    assert work(message, services, time.monotonic() + 3) == "failed"
    # THEN it is a real failure, with the CA's reason, and the wait is over
    cert = services.certificates.get(name)
    assert cert.state.status is Status.FAILED and cert.state.consecutive_failures == 1
    assert cert.state.awaiting_since is None
    assert "rejected by the approver" in str(cert.state.last_error)
    failed = [e for e in events_for(stack, name) if e["detail-type"] == "Certificate Renewal Failed"]
    assert len(failed) == 1 and "rejected by the approver" in failed[0]["detail"]["message"]
    # and no new request was filed with the CA for the approver to refuse again
    assert len(proxy.orders_for(domain(name))) == 2


def test_cert_issue_on_a_held_order_says_it_waits_and_hands_the_order_to_the_issue_worker(stack, cli, unique, proxy):
    # GIVEN a certificate whose order the CA holds
    directory, name = f"approval-{unique}", f"cli-{unique}"
    vault(cli, stack, directory, proxy.directory_url, "kid-1")
    define(cli, name, directory)
    prevalidate(cli, name, directory)
    inbox(stack, "ACMEVAULT_QUEUE_URL")
    proxy.hold = OrderHold(retry_after=2)
    # WHEN it is issued from the command line with a short time budget
    result = cli("cert", "issue", name, "--timeout", "2")
    # THEN that is not a failure: it says it is waiting and when it looks again
    assert result.code == 0, result.err
    assert f"certificate {name}: awaiting the CA's approval since" in result.out and "next check after" in result.out
    # and the issue worker is told to check back (a delayed message), and the list shows the wait
    assert inbox(stack, "ACMEVAULT_QUEUE_URL", wait=0) == []  # delayed: not visible yet
    sqs, url = stack.aws("sqs"), stack.env["ACMEVAULT_QUEUE_URL"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert int(attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"]) >= 1
    listed = cli("cert", "list")
    row = next(line for line in listed.out.splitlines() if line.startswith(name + " "))
    assert "awaiting_ca (" in row
    view = show(cli, name)
    assert view["status"] == "awaiting_ca" and view["consecutive_failures"] == 0
    # and the message arrives when the CA said to look again (taken off the queue: no other test sees it)
    assert [json.loads(b)["certificate"] for b in inbox(stack, "ACMEVAULT_QUEUE_URL", wait=5)] == [name]
