"""Issuances through a proxy that breaks the CA's answers: 5xx bursts, 429s, resets, slow answers.

Every certificate ends issued (a failed attempt is tried again, as the queue would), no resumed order
becomes two, and while an attempt fails the previous certificate keeps being served by ACM and S3.
Every order Pebble holds is accounted for: one per issuance, plus orphans, each explained (an order
whose answer the proxy dropped after Pebble had placed it: no client can know of those).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from acmevault.app.issuance import issue_certificate
from acmevault.app.services import Services
from acmevault.domain.certificate import Certificate, Status
from acmevault.domain.errors import AcmeVaultError, UnavailableError

from tests.reliability.bad_inputs import BadInputs
from tests.reliability.conftest import SEED, Report, Row, scale
from tests.reliability.fault_proxy import FaultProxy
from tests.reliability.helpers import define, domain, figures, fresh_services, orders_at_pebble, served, vault

CERTIFICATES = scale(5, 50)
ROUNDS = 4  # a first issuance and three renewals each: CERTIFICATES x 4 issuances
WORKERS = 4
MAX_ATTEMPTS = 40


@pytest.fixture(scope="module")
def proxy(stack: Any) -> Any:
    proxy = FaultProxy(stack.local, seed=SEED).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # by error class
    refusals: list[str] = field(default_factory=list)  # failures the queue would not retry: must stay empty
    resumed: int = 0  # attempts that found an order of an earlier attempt on the record
    reordered: list[str] = field(default_factory=list)  # ... and placed another one anyway: must stay empty
    orphans: list[str] = field(default_factory=list)  # orders placed in an attempt and never used
    unrecorded: Counter[str] = field(default_factory=Counter)  # why an attempt placed an order it did not record
    untouched: int = 0  # failures after which ACM and S3 were read and served the previous certificate
    serials: list[str] = field(default_factory=list)


def issue_until_done(
    name: str, services: Services, stack: Any, proxy: FaultProxy, tally: Tally, previous: Certificate | None
) -> Certificate:
    """issue_certificate again after every failure, as the queue redelivers the message."""
    identifier = domain(name)
    for _ in range(MAX_ATTEMPTS):
        before = services.certificates.get(name).state
        placed_before = len(proxy.orders_for(identifier))
        failure: AcmeVaultError | None = None
        try:
            issued = issue_certificate(name, services, time.monotonic() + 60)
        except AcmeVaultError as error:
            failure = error
        created = proxy.orders_for(identifier)[placed_before:]
        after = services.certificates.get(name).state
        resumed = before.pending is not None
        if failure is None:
            used = set() if resumed else set(created[-1:])
        else:
            used = {after.pending.order_url} & set(created) if after.pending is not None else set()
        with tally.lock:
            tally.attempts += 1
            tally.resumed += resumed
            if resumed and created:
                tally.reordered.append(f"{name}: {len(created)} new order(s) while resuming {before.pending}")
            orphaned = [url for url in created if url not in used]
            tally.orphans += orphaned
            if failure is not None and [url for url in orphaned if url not in proxy.lost_order_answers]:
                tally.unrecorded[failure.message] += 1
        if failure is None:
            with tally.lock:
                tally.serials.append(str(issued.state.serial))
            return issued
        with tally.lock:
            tally.failures[type(failure).__name__] += 1
            if not isinstance(failure, UnavailableError):
                tally.refusals.append(f"{name}: {failure.code}: {failure.message}")
        # While failing, what is served is the previous certificate, untouched; the record keeps it too.
        if previous is None:
            assert after.serial is None and not after.acm_arns
        else:
            assert after.serial == previous.state.serial and after.status is Status.ISSUED
            arn = previous.state.acm_arns["us-east-1"]
            assert after.acm_arns["us-east-1"] == arn
            assert served(stack, name, arn) == (previous.state.serial,) * 3
            with tally.lock:
                tally.untouched += 1
    raise AssertionError(f"{name} was not issued in {MAX_ATTEMPTS} attempts")


@pytest.mark.timeout(1200)
def test_issuances_under_mixed_ca_faults_all_end_issued_once(stack, cli, unique, proxy, report: Report):
    directory = f"faults-{unique}"
    vault(cli, stack, directory, proxy.directory_url, "kid-2")  # the account is registered before faults begin
    names = [f"f{i}-{unique}" for i in range(CERTIFICATES)]
    for name in names:
        define(cli, name, directory)
    services = fresh_services(stack)
    bad_inputs = BadInputs(stack, load_token=unique)
    tally = Tally()

    def certificate_lifetime(name: str) -> Certificate:
        previous = None
        for _ in range(ROUNDS):
            previous = issue_until_done(name, services, stack, proxy, tally, previous)
        assert previous is not None
        return previous

    # WHEN the certificates are issued and renewed, 4 at a time, while the CA misbehaves (and, at the
    # same time, hostile requests hit the HTTP API)
    started = time.monotonic()
    proxy.enabled = True
    try:
        with ThreadPoolExecutor(max_workers=WORKERS + 1) as pool:
            hostile = pool.submit(bad_inputs.replay)
            final = dict(zip(names, pool.map(certificate_lifetime, names), strict=True))
            hostile.result()
    finally:
        proxy.enabled = False
    elapsed = time.monotonic() - started

    # THEN every certificate was issued ROUNDS times, each time a new serial, and what is served is the last
    issuances = CERTIFICATES * ROUNDS
    assert len(tally.serials) == issuances
    assert len(set(tally.serials)) == issuances
    for name, last in final.items():
        state = services.certificates.get(name).state
        assert state.status is Status.ISSUED and state.pending is None and state.serial == last.state.serial
        assert served(stack, name, state.acm_arns["us-east-1"]) == (state.serial,) * 3
    # AND every failure was one the queue retries: never a refusal
    assert tally.refusals == []
    # AND no order was placed again while one was on the record
    assert tally.reordered == []
    # AND Pebble holds one valid order per issuance, plus the orphans, each accounted for
    orders = orders_at_pebble(services, directory)
    assert sorted(orders) == sorted(proxy.all_orders())  # the proxy saw every order Pebble placed
    valid = [url for url, status in orders.items() if status == "valid"]
    not_valid = sorted(url for url, status in orders.items() if status != "valid")
    assert len(valid) == issuances
    assert not_valid == sorted(tally.orphans)
    lost = set(proxy.lost_order_answers)
    unexplained = [url for url in tally.orphans if url not in lost]
    # AND the bad input was refused by name while all of this went on, and changed nothing
    assert bad_inputs.failures == []
    faults = proxy.faults()
    report.add(
        Row(
            "CA faults (proxy in front of Pebble)",
            f"{issuances} issuances: {CERTIFICATES} certificates x {ROUNDS} (1 issue + 3 renewals), "
            f"{WORKERS} workers, {proxy.requests} CA requests, {elapsed:.0f} s",
            f"{faults} of {proxy.requests} requests: {figures(proxy.injected)}; "
            f"statuses {figures(_str(proxy.statuses))}",
            f"all {issuances} issued, serials distinct; {tally.attempts - issuances} failed attempts "
            f"({figures(tally.failures)}) retried, 0 refusals; {tally.resumed} attempts resumed an order, "
            "0 re-ordered; "
            f"previous certificate served by ACM+S3 after all {tally.untouched} failed renewals; orders at Pebble "
            f"{len(orders)} = {len(valid)} valid + {len(not_valid)} orphans ({len(not_valid) - len(unexplained)} "
            f"with the newOrder answer lost after Pebble placed it, {len(unexplained)} placed but not recorded "
            f"before the attempt failed: {figures(tally.unrecorded)})",
        ),
        issuances=issuances,
        faults=faults,
    )
    report.add(
        Row(
            "bad input under load",
            f"{bad_inputs.tried} hostile HTTP API requests (tests/e2e corpus) during the CA-fault load",
            "-",
            f"all {bad_inputs.tried} refused with their 4xx and field; their targets unchanged",
        ),
        bad_inputs=bad_inputs.tried,
    )


def _str(counter: Counter[int]) -> Counter[str]:
    return Counter({str(k): v for k, v in counter.items()})
