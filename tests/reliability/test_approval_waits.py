"""Orders the CA holds for approval while it also misbehaves: waiting stays a wait, a fault stays a fault.

The proxy in front of Pebble injects its usual faults (5xx bursts, 429s, resets, slow answers) and
holds every order "processing" with a Retry-After longer than an attempt's budget, so each look at an
order hands it back (awaiting_ca). After a few looks the CA approves. Every certificate must end
issued from the order it waited on; every look that ended in a wait recorded no failure; failures
(and their events) are exactly the attempts a fault broke.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
from acmevault.app.renewal import work
from acmevault.domain.certificate import Status
from acmevault.domain.errors import UnavailableError
from acmevault.domain.issue_message import IssueMessage

from tests.reliability.conftest import SEED, Report, Row, scale
from tests.reliability.fault_proxy import FaultProxy, OrderHold
from tests.reliability.helpers import define, domain, figures, fresh_services, served, vault

CERTIFICATES = scale(4, 20)
LOOKS = 3  # looks at each held order before the CA approves it
MAX_ATTEMPTS = 30


@pytest.fixture(scope="module")
def proxy(stack: Any) -> Any:
    proxy = FaultProxy(stack.local, seed=SEED + 12).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def inbox(stack: Any, variable: str) -> list[dict[str, Any]]:
    sqs, url = stack.aws("sqs"), stack.env[variable]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [m["Body"] for m in messages]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return [json.loads(b) if b.startswith("{") else {"text": b} for b in bodies]


@pytest.mark.timeout(900)
def test_approval_waits_under_ca_faults_stay_waits_and_end_issued_from_the_order_waited_on(
    stack, cli, unique, proxy, report: Report
):
    directory = f"held-{unique}"
    vault(cli, stack, directory, proxy.directory_url, "kid-3")
    names = [f"h{i}-{unique}" for i in range(CERTIFICATES)]
    for name in names:
        define(cli, name, directory)
    for variable in ("ACMEVAULT_LOCAL_EVENTS_QUEUE_URL", "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL"):
        inbox(stack, variable)
    services = fresh_services(stack)
    outcomes: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    waited_on: dict[str, str] = {}  # the order each certificate first waited on

    def attempt(name: str) -> str:
        try:
            outcome = work(IssueMessage(name, "on-demand"), services, time.monotonic() + 15)
        except UnavailableError as error:
            failures[type(error).__name__] += 1
            return "retried"
        outcomes[outcome] += 1
        state = services.certificates.get(name).state
        if outcome == "awaiting_ca":
            # THEN a look that ends in a wait records no failure, whatever failed before it
            assert state.status is Status.AWAITING_CA and state.consecutive_failures == 0 and state.last_error is None
            assert state.pending is not None
            waited_on.setdefault(name, state.pending.order_url)
            assert state.pending.order_url == waited_on[name]  # the same order, look after look
        return outcome

    # WHEN every certificate is looked at while the CA holds its order and injects faults
    started = time.monotonic()
    proxy.hold = OrderHold(retry_after=20)  # longer than an attempt's budget: each look hands the order back
    proxy.enabled = True
    try:
        for name in names:
            looks = 0
            for _ in range(MAX_ATTEMPTS):
                looks += attempt(name) == "awaiting_ca"
                if looks == LOOKS:
                    break
            assert looks == LOOKS, f"{name}: {looks} waits in {MAX_ATTEMPTS} attempts"
        # and then the CA approves them all
        proxy.hold.released = True
        for name in names:
            for _ in range(MAX_ATTEMPTS):
                if attempt(name) == "issued":
                    break
            else:
                raise AssertionError(f"{name} was not issued in {MAX_ATTEMPTS} attempts")
    finally:
        proxy.enabled = False
    elapsed = time.monotonic() - started

    # THEN every certificate is issued from the order it waited on, served, with the wait cleared
    for name in names:
        state = services.certificates.get(name).state
        assert state.status is Status.ISSUED and state.pending is None and state.awaiting_since is None
        assert state.consecutive_failures == 0
        assert served(stack, name, state.acm_arns["us-east-1"]) == (state.serial,) * 3
        assert waited_on[name] in proxy.orders_for(domain(name))
        assert proxy.orders_for(domain(name))[-1] == waited_on[name]  # no order placed after it
    # AND no refusal: faults were retried, waits were waits
    assert outcomes["failed"] == 0
    # AND people heard of each failure a fault caused, and of no wait (all far below ApprovalAlertHours)
    events = [e for e in inbox(stack, "ACMEVAULT_LOCAL_EVENTS_QUEUE_URL") if e["detail"].get("certificate") in names]
    told = Counter(e["detail-type"] for e in events)
    assert told["Certificate Renewal Failed"] == sum(failures.values())
    assert told["Certificate Issued"] == CERTIFICATES and told["Certificate Awaiting Approval"] == 0
    alerts = [a["text"] for a in inbox(stack, "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL") if "text" in a]
    assert not [a for a in alerts if "processing since" in a and any(n in a for n in names)]
    report.add(
        Row(
            "approval waits under CA faults",
            f"{CERTIFICATES} certificates, each order held for {LOOKS} looks then approved, "
            f"{proxy.requests} CA requests, {elapsed:.0f} s",
            f"{proxy.faults()} of {proxy.requests} requests: {figures(proxy.injected)}; "
            f"{proxy.held_answers} order answers held 'processing'",
            f"all {CERTIFICATES} issued from the order they waited on; {outcomes['awaiting_ca']} waits, "
            f"0 counted as failures; {sum(failures.values())} fault-broken attempts ({figures(failures)}) "
            "retried, each told once",
        ),
        issuances=CERTIFICATES,
        faults=proxy.faults(),
    )
