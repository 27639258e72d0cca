"""Never wedge, never duplicate (issue 10), many times over: specs changed at random points of an
issuance, one ACM region failing at random, every message delivered one to three times.

Each scenario counts, at the end, certificates served with the spec as it is then (S3, the record and
every ACM region of the spec agree on the serial, and the names are the spec's), certificates wedged
(not so after the sweeps that follow: must be 0), and duplicate issuances, from Pebble's own order
list (a set of names issued more often than it was asked for: must be 0).
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from acmevault.app.issuance import issue_certificate, renew_if_due
from acmevault.app.services import Services
from acmevault.domain.errors import AwsUnavailable
from acmevault_cli.local.invoke import find_function, invoke, load_event

from tests.reliability.conftest import SEED, Report, Row, scale
from tests.reliability.helpers import (
    domain,
    figures,
    fresh_services,
    names_served,
    serial_of,
    served,
    valid_orders_by_names,
    vault,
)
from tests.reliability.test_killed_workers import start_worker

SPEC_CHANGES = scale(10, 50)
REGION_RUNS = scale(10, 50)
DELIVERY_RUNS = scale(20, 100)
SWEEPS = 4  # sweeps after a run before a certificate that is still not served counts as wedged
# the region fails again on 30 % of its catch-ups: ten in a row fail once in ~170,000 runs
REGION_SWEEPS = 10
REGIONS = ("us-east-1", "eu-west-1")
ROOT = Path(__file__).resolve().parents[2]


def sweep_until_served(stack: Any, name: str, regions: tuple[str, ...], sweeps: int = SWEEPS, **changes: Any) -> int:
    """The scheduled sweep, each time an hour further on than the last (so leases and backoffs have run
    out), until the certificate is served with its spec; returns the sweeps it took, or -1: wedged."""
    for sweep in range(1, sweeps + 1):
        ahead = timedelta(hours=7 * sweep)
        later = fresh_services(stack, clock=lambda a=ahead: datetime.now(UTC) + a, **changes)
        with contextlib.suppress(AwsUnavailable):  # the queue's redelivery: the next sweep tries again
            renew_if_due(name, later, time.monotonic() + 60)
        if serves_current_spec(stack, later, name, regions):
            return sweep
    return -1


def serves_current_spec(stack: Any, services: Services, name: str, regions: tuple[str, ...]) -> bool:
    cert = services.certificates.get(name)
    state = cert.state
    if state.serial is None or state.pending is not None:
        return False
    if names_served(stack, name) != set(cert.spec.domains):
        return False
    for region in regions:
        arn = state.regions[region].arn if region in state.regions else None
        acm = served_in(stack, region, arn)
        if acm != state.serial:
            return False
    _, s3, metadata = served(stack, name, None)
    return s3 == metadata == state.serial


def served_in(stack: Any, region: str, arn: str | None) -> str | None:
    if arn is None:
        return None
    return serial_of(stack.aws("acm", region).get_certificate(CertificateArn=arn)["Certificate"])


def _sweeps(sweeps: Counter[int]) -> str:
    return ", ".join(f"{count} after {took}" for took, count in sorted(sweeps.items()))


def duplicates(services: Services, directory: str, asked: Counter[frozenset[str]]) -> int:
    """Issuances beyond what was asked for, per set of names, from Pebble's valid orders."""
    found = valid_orders_by_names(services, directory)
    return sum(max(0, count - asked[names]) for names, count in found.items())


# -- a spec changed at random points of an issuance ------------------------------------------------


@pytest.mark.timeout(1800)
def test_a_spec_changed_at_random_points_of_an_issuance_never_wedges(stack, cli, unique, report: Report):
    directory = f"spec-{unique}"
    vault(cli, stack, directory, stack.directory_url, "kid-1")
    services = fresh_services(stack)
    durations = []
    for i in range(2):  # GIVEN the duration of one issuance in a worker process, measured
        name = f"scal{i}-{unique}"
        assert cli("cert", "put", name, "-d", domain(name), "--directory", directory).code == 0
        worker = start_worker(name)
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, out
        durations.append(float(out.split()[1]))
    measured = statistics.median(durations)
    asked: Counter[frozenset[str]] = Counter({frozenset({domain(f"scal{i}-{unique}")}): 1 for i in range(2)})
    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    sweeps: Counter[int] = Counter()
    served_ok = wedged = 0
    started = time.monotonic()
    for i in range(SPEC_CHANGES):
        name = f"s{i}-{unique}"
        first, added = domain(name), f"www.{domain(name)}"
        assert cli("cert", "put", name, "-d", first, "--directory", directory).code == 0
        # WHEN the spec gets a name at a random point of a worker's issuance, and the worker is killed
        # right after it half of the time (its order or downloaded certificate left on the record)
        worker = start_worker(name)
        time.sleep(rng.uniform(0, measured))
        assert cli("cert", "put", name, "-d", first, "-d", added, "--directory", directory).code == 0
        kill = rng.random() < 0.5
        if kill and worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
            outcomes["killed after the change"] += 1
        else:
            outcomes["finished after the change" if worker.poll() is None else "finished before the change"] += 1
        worker.wait(timeout=120)
        # THEN the sweeps that follow serve the spec as it is now
        took = sweep_until_served(stack, name, ("us-east-1",))
        sweeps[took] += 1
        if took < 0:
            wedged += 1
        else:
            served_ok += 1
        asked[frozenset({first, added})] += 1
        asked[frozenset({first})] += 1  # the worker may finish the old spec before it sees the change
    elapsed = time.monotonic() - started
    extra = duplicates(services, directory, asked)
    assert wedged == 0, f"{wedged} certificates wedged"
    assert extra == 0, f"{extra} duplicate issuances"
    report.add(
        Row(
            "spec changed at random points of an issuance",
            f"{SPEC_CHANGES} runs: a name added after U(0, {measured:.2f} s) of a worker's issuance; {elapsed:.0f} s",
            f"{figures(outcomes)}",
            f"sweeps until served: {_sweeps(sweeps)}",
            served=str(served_ok),
            wedged=str(wedged),
            duplicates=str(extra),
        ),
        issuances=SPEC_CHANGES,
        faults=outcomes["killed after the change"],
        served=served_ok,
        wedged=wedged,
        duplicates=extra,
    )


# -- one ACM region failing at random ----------------------------------------------------------------


class RegionOutage:
    """The real ACM adapter, with one region refusing imports (throttling past the client's retries) at random."""

    def __init__(self, real: Any, rng: random.Random, region: str, chance: float) -> None:
        self.real, self.rng, self.region, self.chance = real, rng, region, chance
        self.failed = 0

    def import_certificate(self, region: str, name: str, bundle: Any, arn: str | None) -> str:
        if region == self.region and self.rng.random() < self.chance:
            self.failed += 1
            raise AwsUnavailable(f"importing certificate {name!r} into ACM in {region}: ThrottlingException")
        return str(self.real.import_certificate(region, name, bundle, arn))

    def clear_revoked(self, region: str, arn: str) -> None:
        self.real.clear_revoked(region, arn)


@pytest.mark.timeout(1800)
def test_one_region_failing_at_random_holds_back_nothing_and_catches_up_without_an_order(
    stack, cli, unique, report: Report
):
    directory = f"reg-{unique}"
    vault(cli, stack, directory, stack.directory_url, "kid-1")
    services = fresh_services(stack)
    rng = random.Random(SEED)
    names = [f"g{i}-{unique}" for i in range(max(1, REGION_RUNS // 10))]
    asked: Counter[frozenset[str]] = Counter()
    for name in names:
        regions = [a for r in REGIONS for a in ("--acm-region", r)]
        assert cli("cert", "put", name, "-d", domain(name), "--directory", directory, *regions).code == 0
        issue_certificate(name, services, time.monotonic() + 60)
        asked[frozenset({domain(name)})] += 1
    arns = {name: dict(services.certificates.get(name).state.acm_arns) for name in names}
    failed_imports = served_ok = wedged = 0
    sweeps: Counter[int] = Counter()
    started = time.monotonic()
    for i in range(REGION_RUNS):
        name = names[i % len(names)]
        region = rng.choice(REGIONS)
        # WHEN a renewal meets one region failing, and each catch-up meets it failing again 30 % of the time
        outage = RegionOutage(services.acm, rng, region, 1.0)
        renewed = issue_certificate(name, fresh_services(stack, acm=outage), time.monotonic() + 60).state
        asked[frozenset({domain(name)})] += 1
        # THEN S3, the record and the other region moved on at once
        other = next(r for r in REGIONS if r != region)
        assert renewed.regions[region].status.value == "failed"
        assert served_in(stack, other, renewed.regions[other].arn) == renewed.serial
        assert served(stack, name, None)[1:] == (renewed.serial, renewed.serial)
        # AND the sweeps re-import the failed region, into its own ARN, without ordering again
        flaky = RegionOutage(services.acm, rng, region, 0.3)
        took = sweep_until_served(stack, name, REGIONS, sweeps=REGION_SWEEPS, acm=flaky)
        failed_imports += outage.failed + flaky.failed
        sweeps[took] += 1
        after = services.certificates.get(name).state
        if took < 0:
            wedged += 1
            continue
        assert after.serial == renewed.serial and after.acm_arns == arns[name] and after.catch_up is None
        served_ok += 1
    elapsed = time.monotonic() - started
    extra = duplicates(services, directory, asked)
    assert wedged == 0 and extra == 0
    report.add(
        Row(
            "one ACM region failing at random",
            f"{REGION_RUNS} renewals of {len(names)} certificates in {', '.join(REGIONS)}, one region failing each "
            f"time and on 30 % of its catch-ups; {elapsed:.0f} s",
            f"{failed_imports} failed ACM imports",
            "S3, the record and the other region moved on at once every time; the failed region re-imported the "
            f"same certificate into its own ARN, no new order; sweeps until caught up: "
            f"{_sweeps(sweeps)}",
            served=str(served_ok),
            wedged=str(wedged),
            duplicates=str(extra),
        ),
        issuances=REGION_RUNS,
        faults=failed_imports,
        served=served_ok,
        wedged=wedged,
        duplicates=extra,
    )


# -- every message delivered one to three times ------------------------------------------------------


def issue_function(stack: Any, bodies: list[dict[str, Any]]) -> list[str]:
    """IssueFunction with one batch; the message ids it hands back to the queue."""
    template = load_event(ROOT / "events/issue-sqs.json")["Records"][0]
    records = [{**template, "messageId": f"m-{i}", "body": json.dumps(b)} for i, b in enumerate(bodies)]
    try:
        result = invoke(find_function(ROOT / "template.yaml", "IssueFunction"), {"Records": records}, stack.env)
    except Exception as error:  # Powertools fails the whole invocation when every record failed
        if type(error).__name__ != "BatchProcessingError":
            raise
        return [r["messageId"] for r in records]
    return [f["itemIdentifier"] for f in result["batchItemFailures"]]


@pytest.mark.timeout(1800)
def test_every_message_delivered_one_to_three_times_issues_once(stack, cli, unique, report: Report):
    directory = f"dup-{unique}"
    vault(cli, stack, directory, stack.directory_url, "kid-1")
    services = fresh_services(stack)
    rng = random.Random(SEED)
    names = [f"d{i}-{unique}" for i in range(5)]
    asked: Counter[frozenset[str]] = Counter()
    for name in names:
        assert cli("cert", "put", name, "-d", domain(name), "--directory", directory).code == 0
        issue_certificate(name, services, time.monotonic() + 60)
        asked[frozenset({domain(name)})] += 1
    deliveries: Counter[str] = Counter()
    served_ok = wedged = 0
    started = time.monotonic()
    for i in range(DELIVERY_RUNS):
        name = names[i % len(names)]
        before = services.certificates.get(name).state.serial
        message = {"certificate": name, "reason": "on-demand", "requested_serial": before}
        copies = rng.randint(1, 3)
        deliveries[f"{copies}x"] += 1
        asked[frozenset({domain(name)})] += 1
        # WHEN SQS delivers the renew message 1-3 times: in one batch or apart, the first maybe meeting
        # the lease of a worker that died holding it (then it goes back to the queue and comes again)
        held = rng.random() < 0.2
        if held:
            services.certificates.acquire_lease(name, "dead-worker", datetime.now(UTC), 900)
            returned = issue_function(stack, [message])
            assert returned == ["m-0"], "an on-demand message meeting a lease must go back to the queue"
            services.certificates.release_lease(name, "dead-worker")  # the lease ran out
            deliveries["returned by a lease"] += 1
        together = rng.random() < 0.5
        if together:
            assert issue_function(stack, [message] * copies) == []
        else:
            for _ in range(copies):
                assert issue_function(stack, [message]) == []
        # THEN exactly one new certificate
        after = services.certificates.get(name).state
        if after.serial != before and serves_current_spec(stack, services, name, ("us-east-1",)):
            served_ok += 1
        else:
            wedged += 1
    elapsed = time.monotonic() - started
    extra = duplicates(services, directory, asked)
    assert wedged == 0 and extra == 0, (wedged, extra)
    report.add(
        Row(
            "every on-demand message delivered 1-3 times",
            f"{DELIVERY_RUNS} renew requests for {len(names)} certificates through IssueFunction, each delivered "
            f"1-3 times (in one batch or apart); {elapsed:.0f} s",
            f"{figures(deliveries)}",
            f"one new certificate per request: {served_ok} renewed, the redeliveries 'already done'",
            served=str(served_ok),
            wedged=str(wedged),
            duplicates=str(extra),
        ),
        issuances=DELIVERY_RUNS,
        faults=sum(v for k, v in deliveries.items() if k != "1x"),
        served=served_ok,
        wedged=wedged,
        duplicates=extra,
    )
