"""The scheduled side on in-memory fakes (tests/fakes): the sweep (what is due is queued, what is about to
expire is told once a day), the issue worker's outcome for each kind of message, and a renewal asked for
on demand. Milliseconds per test; tests/integration/test_renewal.py and test_awaiting_ca.py run the same
against Pebble and moto.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from acmevault.app.issuance import issue_certificate
from acmevault.app.record import LEASE_SECONDS
from acmevault.app.renewal import Outcome, renew_due, work
from acmevault.app.sweep import queue_renewal, sweep
from acmevault.domain.errors import CaUnavailable, LeaseHeld, Unauthorized
from acmevault.domain.issue_message import IssueMessage, parse_message

from tests.fakes.world import World


def deadline() -> float:
    return time.monotonic() + 60


def scheduled(name: str) -> IssueMessage:
    return IssueMessage(name, "renewal")


def on_demand(name: str, serial: str | None) -> IssueMessage:
    return IssueMessage(name, "on-demand", serial, knows_serial=True)


# -- the sweep -----------------------------------------------------------------------------------------


def test_the_sweep_queues_what_is_due_and_only_that():
    world = World()
    world.define("new", "new.example.com")  # a new certificate is due at once
    world.define("fresh", "fresh.example.com")
    issue_certificate("fresh", world.services, deadline())

    result = sweep(world.clock.now, world.services, world.queue)

    assert result.queued == 1 and world.queue.sent == [(["new"], "renewal", {})]
    assert world.metrics.named("SweepQueued") == [(None, 1)]


def test_a_certificate_close_to_expiry_and_not_renewed_is_told_once_a_day():
    world = World()
    world.define("web", "www.example.com")
    issued = issue_certificate("web", world.services, deadline())
    world.clock.now = issued.state.not_after - timedelta(days=14)  # a sixth of 90 days is left: 15 days

    first = sweep(world.clock.now, world.services, world.queue)
    world.clock.advance(hours=12)
    second = sweep(world.clock.now, world.services, world.queue)
    world.clock.advance(hours=13)
    third = sweep(world.clock.now, world.services, world.queue)

    assert (first.expiring, second.expiring, third.expiring) == (["web"], [], ["web"])
    assert [subject for subject, _ in world.outlets.alerted] == [
        "acmevault: web expires in 14.0 days",
        *["acmevault: web expires in 13.0 days"],
    ]
    (told, _) = world.outlets.of_type("Certificate Expiring")
    assert told["serial"] == issued.state.serial and told["days_to_expiry"] == 14.0


def test_an_expiry_notice_that_could_not_go_out_is_tried_again_at_the_next_sweep():
    world = World()
    world.define("web", "www.example.com")
    issued = issue_certificate("web", world.services, deadline())
    world.clock.now = issued.state.not_after - timedelta(days=14)
    world.outlets.down = True
    sweep(world.clock.now, world.services, world.queue)  # never raises: telling never fails the action

    world.outlets.down = False
    world.clock.advance(hours=1)
    sweep(world.clock.now, world.services, world.queue)
    assert len(world.outlets.of_type("Certificate Expiring")) == 1


# -- the issue worker ----------------------------------------------------------------------------------


def test_a_scheduled_message_issues_what_is_due_and_leaves_the_rest():
    world = World()
    world.define("web", "www.example.com")
    assert work(scheduled("web"), world.services, deadline()) is Outcome.ISSUED
    assert work(scheduled("web"), world.services, deadline()) is Outcome.NOT_DUE
    assert world.ca.calls["place_order"] == 1


def test_a_message_for_a_certificate_another_worker_holds():
    world = World()
    world.define("web", "www.example.com")
    world.certificates.acquire_lease("web", "other worker", world.clock.now, LEASE_SECONDS)
    # scheduled: nothing to do, the other worker is on it
    assert work(scheduled("web"), world.services, deadline()) is Outcome.BUSY
    # on demand: back to the queue, so it is done once the other worker is
    with pytest.raises(LeaseHeld):
        work(on_demand("web", None), world.services, deadline())
    assert world.ca.calls["place_order"] == 0


def test_a_refusal_is_recorded_and_the_message_is_done_while_an_outage_sends_it_back():
    world = World()
    world.define("web", "www.example.com")
    world.ca.fail("place_order", Unauthorized("placing the order: the CA refused (unauthorized)", "unauthorized"))
    assert work(scheduled("web"), world.services, deadline()) is Outcome.FAILED
    assert world.record("web").state.consecutive_failures == 1

    world.ca.fail("place_order", CaUnavailable("placing the order: cannot reach the CA"))
    with pytest.raises(CaUnavailable):
        work(on_demand("web", None), world.services, deadline())
    assert world.record("web").state.consecutive_failures == 2


def test_an_order_the_ca_holds_is_handed_back_until_its_next_check():
    world = World()
    world.define("web", "www.example.com")
    world.ca.hold, world.ca.hold_retry_after = True, 300.0
    message = on_demand("web", None)

    assert work(message, world.services, deadline(), world.queue) is Outcome.AWAITING_CA

    ((again, delay),) = world.queue.later
    assert parse_message(again.body()) == message and delay == 300
    assert world.record("web").state.retry_at == world.clock.now + timedelta(seconds=300)


def test_a_certificate_issued_with_a_region_failing_says_so():
    world = World(regions=("us-east-1", "eu-west-1"))
    world.define("web", "www.example.com")
    world.acm.failing.add("eu-west-1")
    assert work(scheduled("web"), world.services, deadline()) is Outcome.ISSUED_REGION_FAILING


def test_an_on_demand_message_delivered_again_after_the_certificate_moved_on_does_nothing():
    world = World()
    world.define("web", "www.example.com")
    asked = on_demand("web", None)  # asked for while nothing was issued
    assert work(asked, world.services, deadline()) is Outcome.ISSUED
    serial = world.record("web").state.serial

    assert work(asked, world.services, deadline()) is Outcome.ALREADY_DONE  # SQS delivered it again
    assert world.ca.calls["place_order"] == 1 and world.record("web").state.serial == serial
    # asked for while that serial served: renewed now, due or not
    assert work(on_demand("web", serial), world.services, deadline()) is Outcome.ISSUED
    assert world.record("web").state.serial != serial


def test_a_renewal_asked_for_on_demand_is_queued_with_the_serial_serving_and_noted():
    world = World()
    world.define("web", "www.example.com")
    issued = issue_certificate("web", world.services, deadline())

    queue_renewal("web", world.services, world.queue)

    assert world.queue.sent == [(["web"], "on-demand", {"web": issued.state.serial})]
    noted = world.certificates.history("web")[0]
    assert noted["action"] == "renewal requested" and noted["serial"] == issued.state.serial


def test_renew_due_counts_each_outcome():
    world = World()
    world.define("one", "one.example.com")
    world.define("two", "two.example.com")
    world.define("held", "held.example.com")
    world.certificates.acquire_lease("held", "other worker", world.clock.now, LEASE_SECONDS)
    seen: list[tuple[str, Outcome]] = []

    counted = renew_due(world.services, world.clock.now, timeout=60, workers=1, progress=lambda *p: seen.append(p))

    assert counted == {Outcome.ISSUED: 2, Outcome.BUSY: 1}
    assert sorted(seen) == [("held", Outcome.BUSY), ("one", Outcome.ISSUED), ("two", Outcome.ISSUED)]
