"""Throttling, 5xx and dropped connections on ACM import, S3 put and DynamoDB writes (acmevault's retries run).

Retried: a renewal whose AWS calls fail a few times each completes in one attempt. Exhausted: when
every one of the client's sends fails, the attempt fails; the next one pushes the certificate the
first downloaded (pending.fullchain) or resumes its recorded order, and Pebble's order count does
not move.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from acmevault.app.issuance import issue_certificate, renew_if_due
from acmevault.domain.certificate import Status
from acmevault.domain.errors import AwsUnavailable

from tests.reliability.aws_faults import KINDS, AwsFaults
from tests.reliability.conftest import FULL, SEED, Report, Row, scale
from tests.reliability.helpers import (
    acm_certificates_by_domain,
    define,
    domain,
    figures,
    fresh_services,
    orders_at_pebble,
    s3_key_matches_certificate,
    served,
    vault,
)

RETRIED = scale(4, 30)  # renewals with every AWS write failing a few times
REGION = "us-east-1"
SENDS = 6  # acmevault's clients send a request up to 6 times: botocore's standard mode with max_attempts 5


@pytest.fixture
def aws_faults(stack: Any) -> Any:
    # acmevault's own clients in REGION (every adapter's: transport.HOOKS sees each send they make)
    faults = AwsFaults(REGION).install()
    try:
        yield faults
    finally:
        faults.uninstall()


@pytest.fixture
def account(stack: Any, cli: Any, unique: str) -> str:
    """A directory of this test's own, so Pebble's order list is this test's alone."""
    directory = f"aws-{unique}"
    vault(cli, stack, directory, stack.directory_url, "kid-3")
    return directory


def test_aws_throttling_and_5xx_are_retried_and_nothing_is_lost(
    stack, cli, unique, account, aws_faults: AwsFaults, report: Report
):
    services = fresh_services(stack)
    rng = random.Random(SEED)
    names = [f"r{i}-{unique}" for i in range(RETRIED)]
    for name in names:
        define(cli, name, account)
        issue_certificate(name, services, time.monotonic() + 60)  # the certificate a renewal replaces
    orders = len(orders_at_pebble(services, account))
    started = time.monotonic()
    for name in names:
        # GIVEN an ACM import, an S3 put (of one of the five files) and a DynamoDB write of this renewal
        # that each fail 1-3 times (the client sends up to 6 times) with throttling, a 5xx or a dropped connection
        file = rng.choice(["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem", "metadata.json"])
        aws_faults.fail("acm", rng.choice(KINDS), lambda text: True, times=rng.randint(1, 3))
        aws_faults.fail("s3", rng.choice(KINDS), lambda t, n=name, f=file: f"/{n}/{f}" in t, times=rng.randint(1, 3))
        aws_faults.fail(
            "dynamodb", rng.choice(KINDS), lambda t, n=name: n in t, skip=rng.randint(0, 4), times=rng.randint(1, 3)
        )
        previous = services.certificates.get(name).state
        # WHEN it is renewed: THEN in one attempt
        renewed = issue_certificate(name, services, time.monotonic() + 60).state
        aws_faults.clear()
        # AND what is served is the new certificate, everywhere, the same ARN, the key with it
        assert renewed.serial != previous.serial and renewed.pending is None
        assert renewed.acm_arns == previous.acm_arns
        assert served(stack, name, renewed.acm_arns[REGION]) == (renewed.serial,) * 3
        assert s3_key_matches_certificate(stack, name)
        stored = services.certificates.get(name).state
        assert stored.serial == renewed.serial and stored.status is Status.ISSUED and stored.consecutive_failures == 0
    elapsed = time.monotonic() - started
    # AND each renewal placed exactly one order
    assert len(orders_at_pebble(services, account)) == orders + RETRIED
    assert aws_faults.total() >= RETRIED * 3
    by_service: Counter[str] = Counter()
    for key, count in aws_faults.injected.items():
        by_service[key.split()[0]] += count
    report.add(
        Row(
            "AWS faults, retried by the client",
            f"{RETRIED} renewals, each with an ACM import, an S3 put and a DynamoDB write failing 1-3 times; "
            f"{elapsed:.0f} s",
            f"{aws_faults.total()} failed sends: {figures(aws_faults.injected)}",
            f"all {RETRIED} renewed in one attempt each ({figures(by_service)} sends retried); new serial in "
            f"ACM (same ARN) and S3, key matching; {RETRIED} orders for {RETRIED} renewals",
        ),
        issuances=RETRIED * 2,
        faults=aws_faults.total(),
    )


def _has(*needles: str, absent: tuple[str, ...] = ()) -> Any:
    return lambda text: all(n in text for n in needles) and not any(a in text for a in absent)


# Where the client's sends run out: (label, service, what the failing request carries, what it must not,
# the orders the renewal costs in all). "until cleared": every matching write fails, also the failure record.
EXHAUSTED = [
    ("ACM import", "acm", (), (), 1),
    ("S3 put, every file (until cleared)", "s3", ("/certificates/{name}/",), (), 1),
    ("S3 put, privkey.pem only", "s3", ("/certificates/{name}/privkey.pem",), (), 1),
    ("DynamoDB: recording the order", "dynamodb", ("{name}", '":pending_order_url"'), ('":pending_fullchain"',), 1),
    ("DynamoDB: recording the download", "dynamodb", ("{name}", '":pending_fullchain"'), (), 1),
    ("DynamoDB: recording the issued certificate", "dynamodb", ("{name}", '":serial"'), ('":pending_order_url"',), 1),
    # The one window: the order is placed, and neither its record nor the failure record can be written.
    ("DynamoDB: every write of the order (until cleared)", "dynamodb", ("{name}", '":pending_order_url"'), (), 2),
]
# throttling: the client waits up to 1 + 2 + 4 + 8 + 16 s between its sends (20 times what it waits after a 5xx), as
# botocore's standard mode does: full run only
EXHAUSTED_KINDS = ["5xx", "throttle"] if FULL else ["5xx"]


@pytest.fixture(scope="module")
def exhausted(report: Report) -> Any:
    """What the exhausted cases that passed saw; one row of the report for all of them."""
    tally: dict[str, Any] = {"runs": 0, "faults": Counter(), "mixed": set(), "orphans": 0}
    yield tally
    if tally["runs"]:
        mixed = sorted(tally["mixed"])
        report.add(
            Row(
                "AWS faults, the client's retries exhausted",
                f"{tally['runs']} renewals, each with one write failing on all {SENDS} of the client's sends: "
                + "; ".join(e[0] for e in EXHAUSTED),
                f"{tally['faults'].total()} failed sends: {figures(tally['faults'])}",
                "each finished by the next run without a new order (the downloaded certificate pushed, the "
                "recorded order resumed, or the failed ACM region re-imported from the certificate S3 and the record "
                "had moved to), into the same ARN, one ACM certificate per name; except where DynamoDB "
                f"failed every write of the order: {tally['orphans']} orphan order(s) at the CA, never served"
                + (
                    f"; S3 held a new cert.pem beside the old privkey.pem until then after: {', '.join(mixed)}"
                    if mixed
                    else ""
                ),
            ),
            issuances=tally["runs"] * 2,
            faults=tally["faults"].total(),
        )


@pytest.mark.parametrize("kind", EXHAUSTED_KINDS)
@pytest.mark.parametrize(
    ("label", "service", "needles", "absent", "orders_in_all"), EXHAUSTED, ids=[e[0] for e in EXHAUSTED]
)
def test_when_the_retries_give_up_the_next_run_pushes_without_ordering_again(
    stack, cli, unique, account, aws_faults: AwsFaults, exhausted, label, service, needles, absent, orders_in_all, kind
):
    services = fresh_services(stack)
    name = f"x-{unique}"
    define(cli, name, account)
    first = issue_certificate(name, services, time.monotonic() + 60).state
    arn = first.acm_arns[REGION]
    orders = len(orders_at_pebble(services, account))
    # GIVEN a write that fails on each of the client's sends (the first and its 5 retries)
    matches = _has(*(n.format(name=name) for n in needles), absent=absent)
    rule = aws_faults.fail(service, kind, matches, times=None if "until cleared" in label else SENDS)
    # WHEN a renewal runs into it (an ACM region failing holds back nothing else: the renewal goes on)
    if service == "acm":
        assert issue_certificate(name, services, time.monotonic() + 60).state.regions[REGION].status.value == "failed"
    else:
        with pytest.raises(AwsUnavailable, match=r"AWS is throttling or failing|cannot reach AWS"):
            issue_certificate(name, services, time.monotonic() + 60)
    aws_faults.clear()
    assert rule.failed >= SENDS  # every send the client made was answered with the fault
    failed = services.certificates.get(name).state
    downloaded = failed.pending.fullchain if failed.pending is not None else None
    # THEN until the next run, ACM serves the previous certificate unless it was imported before the failure,
    # and S3's metadata.json names the previous one unless everything was written
    acm_serial, s3_serial, metadata_serial = served(stack, name, arn)
    mixed = False
    if service == "acm":  # S3 and the record moved on; the region keeps the previous one until it catches up
        assert acm_serial == first.serial and s3_serial == metadata_serial == failed.serial != first.serial
        assert failed.catch_up is not None and failed.retry_at is not None
    if service == "s3":
        assert metadata_serial == first.serial
        mixed = not s3_key_matches_certificate(stack, name)  # cert.pem new, privkey.pem old: until the next run
    # WHEN the next run comes: the queue's redelivery; for a failed ACM region, the sweep at its retry time
    if service == "acm":
        later = fresh_services(stack, clock=lambda: datetime.now(UTC) + timedelta(hours=7))
        assert renew_if_due(name, later, time.monotonic() + 60) is not None
        renewed = services.certificates.get(name).state
    else:
        renewed = issue_certificate(name, services, time.monotonic() + 60).state
    # THEN it finished the same renewal: no new order, the certificate downloaded before if there was one
    # (except when the order could not be recorded at all: that one is an orphan at the CA, never served)
    assert len(orders_at_pebble(services, account)) == orders + orders_in_all
    if downloaded is not None:
        assert renewed.certificate_pem is not None and renewed.certificate_pem in downloaded
    assert renewed.serial != first.serial and renewed.pending is None and renewed.acm_arns[REGION] == arn
    assert served(stack, name, arn) == (renewed.serial,) * 3
    assert s3_key_matches_certificate(stack, name)
    assert acm_certificates_by_domain(stack).get(domain(name)) == [arn]
    exhausted["runs"] += 1
    exhausted["orphans"] += orders_in_all - 1
    exhausted["faults"][f"{service} {kind}"] += rule.failed
    if mixed:
        exhausted["mixed"].add(label)
