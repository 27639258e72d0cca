"""Lambda timeouts mid-order: a worker process killed (SIGKILL) at a random point of its issuance, many times.

Each run: a process issues a new certificate and is killed after a delay drawn from the measured
duration of one issuance; then the queue's redelivery runs, in-process with a clock 16 minutes
ahead, so the dead worker's 15-minute lease has run out. Every certificate ends issued exactly once:
one valid order per name at Pebble, one certificate served (ACM at the recorded ARN, S3).

Orders at Pebble <= certificates + kills that landed between placing an order and recording it:
such an order exists at the CA but nowhere in acmevault, so the redelivery orders again; the first
stays pending at the CA (an orphan, never finalized, never served) until it expires. The test counts
those orphans exactly, from Pebble's own order list.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from acmevault.app.issuance import renew_if_due
from acmevault.domain.certificate import Status

from tests.reliability.conftest import SEED, Report, Row, scale
from tests.reliability.helpers import (
    acm_certificates_by_domain,
    define,
    domain,
    figures,
    fresh_services,
    orders_at_pebble,
    orders_with_names,
    s3_key_matches_certificate,
    serial_of,
    served,
    vault,
)

KILLS = scale(10, 50)
CALIBRATION_RUNS = 3

WORKER = textwrap.dedent(
    """
    import sys, time
    from acmevault.app.issuance import issue_certificate
    from acmevault.composition.services import services
    built = services()  # the container's start: settings and clients
    print("go", flush=True)
    started = time.monotonic()
    issue_certificate(sys.argv[1], built, time.monotonic() + 60)
    print(f"done {time.monotonic() - started:.3f}", flush=True)
    """
)


def start_worker(name: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, name],
        env=os.environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its warnings are not this test's business; outcomes are read from state
        text=True,
    )
    assert worker.stdout is not None
    line = worker.stdout.readline()
    assert line.strip() == "go", f"the worker did not start: {line!r}"
    return worker


def phase(services: Any, directory: str, name: str, orders_before: int) -> str:
    """How far the killed worker got, from what it left behind."""
    state = services.certificates.get(name).state
    if state.serial is not None and state.pending is None:
        return "completed"
    if state.pending is not None and state.pending.fullchain is not None:
        return "ARN recorded, not pushed" if state.acm_arns else "certificate downloaded, not pushed"
    if state.pending is not None:
        return "order recorded, not finished"
    placed = len(orders_at_pebble(services, directory)) - orders_before
    return "order placed, not recorded" if placed else "before the order"


@pytest.mark.timeout(1200)
def test_workers_killed_at_random_points_leave_every_certificate_issued_exactly_once(
    stack, cli, unique, report: Report
):
    directory = f"kill-{unique}"
    vault(cli, stack, directory, stack.directory_url, "kid-1")
    services = fresh_services(stack)
    # GIVEN the duration of one issuance in a worker process, measured
    durations = []
    for i in range(CALIBRATION_RUNS):
        name = f"cal{i}-{unique}"
        define(cli, name, directory)
        worker = start_worker(name)
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0 and out.startswith("done"), out
        durations.append(float(out.split()[1]))
    measured = statistics.median(durations)
    rng = random.Random(SEED)
    phases: Counter[str] = Counter()
    names = []
    started = time.monotonic()
    for i in range(KILLS):
        name = f"k{i}-{unique}"
        names.append(name)
        define(cli, name, directory)
        orders_before = len(orders_at_pebble(services, directory))
        # WHEN a worker is killed at a random point of its issuance (SIGKILL: no cleanup at all)
        worker = start_worker(name)
        time.sleep(rng.uniform(0, measured))
        if worker.poll() is None:
            worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)
        phases[phase(services, directory, name, orders_before)] += 1
        # AND the queue redelivers the message once the dead worker's lease has run out
        later = fresh_services(stack, clock=lambda: datetime.now(UTC) + timedelta(minutes=16))
        renew_if_due(name, later, time.monotonic() + 60)
    elapsed = time.monotonic() - started

    # THEN every certificate is issued, and served from ACM (at the recorded ARN) and S3, key with it
    acm = acm_certificates_by_domain(stack)
    extra_acm_copies = 0
    for name in names:
        state = services.certificates.get(name).state
        assert state.status is Status.ISSUED and state.pending is None and state.serial is not None
        arn = state.acm_arns["us-east-1"]
        assert served(stack, name, arn) == (state.serial,) * 3
        assert s3_key_matches_certificate(stack, name)
        copies = acm[domain(name)]
        assert arn in copies
        # a worker killed between ACM's answer and recording the ARN leaves a copy of the same certificate
        for other in set(copies) - {arn}:
            got = stack.aws("acm").get_certificate(CertificateArn=other)["Certificate"]
            assert serial_of(got) == state.serial
            extra_acm_copies += 1
    # AND exactly once: one valid order per name at Pebble, the one whose certificate is served
    orders = orders_with_names(services, directory)
    valid = Counter(identifier for status, identifier in orders.values() if status == "valid")
    for name in names:
        assert valid[domain(name)] == 1, f"{name}: {valid[domain(name)]} valid orders"
    # AND the orders beyond one per certificate are exactly the orders a worker placed and died before recording
    certificates = CALIBRATION_RUNS + KILLS
    orphans = len(orders) - certificates
    unrecorded = phases["order placed, not recorded"]
    assert orphans == unrecorded
    assert len(orders) <= certificates + unrecorded
    killed = KILLS - phases["completed"]
    report.add(
        Row(
            "workers killed mid-issuance (SIGKILL)",
            f"{KILLS} runs, each a new certificate, killed after U(0, {measured:.2f} s) (the measured issuance); "
            f"redelivered with the clock 16 min ahead; {elapsed:.0f} s",
            f"{killed} kills: {figures(Counter({k: v for k, v in phases.items() if k != 'completed'}))} "
            f"({phases['completed']} finished before the kill)",
            f"all {KILLS} issued exactly once (one valid order per name, served by ACM and S3); orders at Pebble "
            f"{len(orders)} = {certificates} certificates + {orphans} orphans, each a kill between placing and "
            f"recording an order; {extra_acm_copies} extra ACM copies",
            served=str(KILLS),  # each asserted above: issued, served by ACM and S3, one valid order per name
            wedged="0",
            duplicates="0",
        ),
        issuances=KILLS,
        faults=killed,
        served=KILLS,
    )
