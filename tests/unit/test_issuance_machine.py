"""The issuance state machine on in-memory fakes of its ports (tests/fakes): first issue, renewal, an order
resumed after a crash, the spec changing under an order, ACM regions failing and catching up or dropped,
an order the CA holds, failures and their backoff, the lease, revocation. Milliseconds per test.

The fakes keep what their services keep and judge as they judge (the CA checks the TXT record in the
zone DNS would answer from, and issues real certificates; the table fences writes by lease and spec), so
each test reads back what the CA, ACM, S3 and the table hold. tests/integration runs the same behaviours
against Pebble and moto (the contract tests).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from acmevault.app.issuance import issue_certificate, renew_if_due
from acmevault.app.record import LEASE_SECONDS
from acmevault.app.revocation import RevocationReason, revoke_certificate
from acmevault.domain import ari
from acmevault.domain.certificate import RegionStatus, Status
from acmevault.domain.directory import DirectoryState, DirectoryStatus
from acmevault.domain.errors import (
    AuthorizationRequired,
    CaError,
    CaUnavailable,
    ChallengeFailed,
    ConflictError,
    DirectoryLost,
    Forbidden,
    LeaseHeld,
    LeaseLost,
    OrderMismatch,
    OutOfTime,
    Unauthorized,
)
from acmevault.domain.keys import load_private_key
from acmevault.domain.policy import DirectoryPolicy
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.fakes.ca_session import ScriptedCa
from tests.fakes.world import DIRECTORY, World


class WorkerKilled(BaseException):
    """A worker killed part-way (a Lambda timeout, an out-of-memory kill): none of its code runs on."""


def kill() -> None:
    raise WorkerKilled


def deadline(seconds: float = 60) -> float:
    return time.monotonic() + seconds


def names(pem: str) -> set[str]:
    certificate = x509.load_pem_x509_certificate(pem.encode())
    return set(
        certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
    )


def killed_at_acm_import(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next ACM import kills the worker: the certificate is downloaded, nothing is delivered."""
    real = world.acm.import_certificate

    def import_certificate(*args: object) -> str:
        monkeypatch.setattr(world.acm, "import_certificate", real)
        raise WorkerKilled

    monkeypatch.setattr(world.acm, "import_certificate", import_certificate)


def spki(pem: str) -> bytes:
    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# -- first issue and renewal ---------------------------------------------------------------------------


def test_a_first_issue_proves_each_name_in_its_zone_and_delivers_the_certificate_everywhere():
    world = World(regions=("us-east-1", "eu-west-1"))
    world.define("web", "www.example.com", "*.example.org")

    issued = issue_certificate("web", world.services, deadline())

    (serial,) = world.ca.issued_serials()
    state = world.record("web").state
    assert issued.state.serial == state.serial == serial and state.status is Status.ISSUED
    assert state.pending is None and state.consecutive_failures == 0 and state.last_error is None
    for region in ("us-east-1", "eu-west-1"):
        assert world.acm.serial_in(region, state.regions[region].arn) == serial
    files = world.files.current("web")
    assert names(files["cert.pem"]) == {"www.example.com", "*.example.org"}
    private_key = load_private_key(files["privkey.pem"]).public_key()
    assert private_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == spki(files["cert.pem"])
    # each name was proved with a record in its own zone, and none is left behind
    assert {(r.zone, r.name) for r in world.dns.published} == {
        ("Z0COM", "_acme-challenge.www.example.com"),
        ("Z0ORG", "_acme-challenge.example.org"),
    }
    assert world.dns.records == set()
    (event,) = world.outlets.of_type("Certificate Issued")
    assert event["serial"] == serial and event["s3_prefix"] == "certificates/web/"
    assert world.certificates.lease_holder("web") is None


def test_prevalidated_names_are_not_proved_again():
    world = World()
    world.ca.prevalidated = {"www.example.com"}
    world.define("web", "www.example.com", "api.example.com")
    issue_certificate("web", world.services, deadline())
    assert [r.name for r in world.dns.published] == ["_acme-challenge.api.example.com"]


def test_renew_if_due_renews_once_the_renewal_time_has_come_into_the_same_arn():
    world = World()
    world.define("web", "www.example.com")
    first = issue_certificate("web", world.services, deadline())
    arn = first.state.regions["us-east-1"].arn

    world.clock.advance(days=59)  # a 90-day certificate renews when a third of it is left: day 60
    assert renew_if_due("web", world.services, deadline()) is None
    assert world.ca.calls["place_order"] == 1

    world.clock.advance(days=2)
    renewed = renew_if_due("web", world.services, deadline())
    assert renewed is not None
    old, new = world.ca.issued_serials()
    assert first.state.serial == old and renewed.state.serial == new != old
    assert renewed.state.regions["us-east-1"].arn == arn and world.acm.serial_in("us-east-1", arn) == new
    (event,) = world.outlets.of_type("Certificate Renewed")
    assert event["serial"] == new


def test_a_renewal_names_the_certificate_it_replaces_and_takes_the_cas_renewal_window():
    world = World()
    world.ca.supports_ari = True
    window = (world.clock.now + timedelta(days=40), world.clock.now + timedelta(days=42))
    world.ca.renewal_window = window
    world.define("web", "www.example.com")
    first = issue_certificate("web", world.services, deadline())
    assert window[0] <= first.state.renew_at <= window[1]

    world.clock.now = window[1]
    renew_if_due("web", world.services, deadline())
    certificate = x509.load_pem_x509_certificate(first.state.certificate_pem.encode())
    second_order = list(world.ca.orders.values())[1]
    assert second_order.replaces == ari.certificate_id(certificate)


# -- an order in flight --------------------------------------------------------------------------------


def test_an_order_placed_before_a_crash_is_resumed_not_placed_again():
    world = World()
    world.define("web", "www.example.com")
    world.ca.before("finalize", kill)
    with pytest.raises(WorkerKilled):
        issue_certificate("web", world.services, deadline())
    pending = world.record("web").state.pending
    assert pending is not None and pending.fullchain is None

    world.clock.advance(minutes=16)
    issued = renew_if_due("web", world.services, deadline())

    assert issued is not None and issued.state.pending is None
    assert world.ca.calls["place_order"] == 1
    assert world.ca.order_for(issued.state.serial).url == pending.order_url


def test_a_certificate_downloaded_before_a_crash_is_delivered_without_a_new_order(monkeypatch):
    world = World()
    world.define("web", "www.example.com")
    killed_at_acm_import(world, monkeypatch)
    with pytest.raises(WorkerKilled):
        issue_certificate("web", world.services, deadline())
    assert world.record("web").state.pending.fullchain is not None
    assert world.files.versions == {}

    issued = issue_certificate("web", world.services, deadline())

    assert world.ca.calls["place_order"] == 1 and world.ca.calls["finalize"] == 1
    assert issued.state.serial == world.ca.issued_serials()[0]
    assert world.acm.serial_in("us-east-1", issued.state.regions["us-east-1"].arn) == issued.state.serial


def test_an_order_placed_for_an_earlier_spec_is_dropped_and_the_spec_ordered_as_it_is():
    world = World()
    world.define("web", "www.example.com")
    world.ca.before("finalize", kill)
    with pytest.raises(WorkerKilled):
        issue_certificate("web", world.services, deadline())
    dropped = world.record("web").state.pending.order_url

    world.define("web", "www.example.com", "api.example.com")
    issued = renew_if_due("web", world.services, deadline())

    assert issued is not None and names(issued.state.certificate_pem) == {"www.example.com", "api.example.com"}
    assert world.ca.calls["place_order"] == 2 and world.ca.order_for(issued.state.serial).url != dropped
    entry = next(e for e in world.certificates.history("web") if e["action"] == "pending order dropped")
    assert entry["order_url"] == dropped and entry["why"] == "the spec changed since the order was placed"


def test_a_downloaded_certificate_that_still_covers_a_narrowed_spec_serves_until_the_exact_one_is_issued(
    monkeypatch,
):
    world = World()
    world.define("web", "www.example.com", "api.example.com")
    killed_at_acm_import(world, monkeypatch)
    with pytest.raises(WorkerKilled):
        issue_certificate("web", world.services, deadline())

    world.define("web", "www.example.com")
    issued = renew_if_due("web", world.services, deadline())

    downloaded, exact = world.ca.issued_serials()
    assert [v["metadata"]["serial"] for v in world.files.versions["web"]] == [downloaded, exact]
    assert issued is not None and issued.state.serial == exact
    assert names(issued.state.certificate_pem) == {"www.example.com"}


def test_a_spec_changed_while_its_certificate_is_issued_leaves_it_due_at_once():
    world = World()
    world.define("web", "www.example.com")
    world.ca.before("finalize", lambda: world.define("web", "www.example.com", "api.example.com"))

    issue_certificate("web", world.services, deadline())

    state = world.record("web").state
    assert state.serial == world.ca.issued_serials()[0]  # delivered: it serves the names it was ordered for
    assert list(world.certificates.due(world.clock.now)) == ["web"]
    again = renew_if_due("web", world.services, deadline())
    assert again is not None and names(again.state.certificate_pem) == {"www.example.com", "api.example.com"}


def test_a_spec_changed_while_its_certificate_is_issued_is_due_even_if_the_worker_dies_right_after(monkeypatch):
    # the change is noticed in the same conditional write as the issued state, not in a later one
    world = World()
    world.define("web", "www.example.com")
    world.ca.before("finalize", lambda: world.define("web", "www.example.com", "api.example.com"))
    for method in ("save_state", "save_state_and_get"):
        real = getattr(world.certificates, method)

        def killed_after(name: str, state: object, *args: object, _real: Any = real, **kwargs: object) -> object:
            stored = _real(name, state, *args, **kwargs)
            if getattr(state, "serial", None) is not None:
                raise WorkerKilled  # killed as soon as the issued state is written
            return stored

        monkeypatch.setattr(world.certificates, method, killed_after)
    with pytest.raises(WorkerKilled):
        issue_certificate("web", world.services, deadline())

    assert world.record("web").state.serial == world.ca.issued_serials()[0]
    assert list(world.certificates.due(world.clock.now)) == ["web"]


def test_a_spec_changed_right_after_the_issued_state_is_written_is_due_at_once(monkeypatch):
    # the issuance does not read the spec again after its issued write: the definer sees the issued state and
    # makes the certificate due itself (define_certificate: a change the serving certificate does not satisfy)
    world = World()
    world.define("web", "www.example.com")
    publish = world.outlets.publish

    def changed_then_published(detail_type: str, detail: dict) -> None:
        if detail_type == "Certificate Issued":
            world.define("web", "www.example.com", "api.example.com")
        publish(detail_type, detail)

    monkeypatch.setattr(world.outlets, "publish", changed_then_published)
    issued = issue_certificate("web", world.services, deadline())

    assert world.record("web").state.serial == issued.state.serial == world.ca.issued_serials()[0]
    assert list(world.certificates.due(world.clock.now)) == ["web"]
    again = renew_if_due("web", world.services, deadline())
    assert again is not None and names(again.state.certificate_pem) == {"www.example.com", "api.example.com"}


def test_an_issuance_reads_its_certificate_only_through_what_its_writes_answer():
    # the lease's conditional write answers the certificate as the lease was taken, and the issued state's
    # write the spec as it is then: no GetItem of the certificate in an issuance (nor a renewal), and one
    # read of its directory's state and policy together
    world = World()
    world.define("web", "www.example.com")
    certificate_reads, directory_reads = world.certificates.reads, world.vault.reads

    issued = issue_certificate("web", world.services, deadline())

    assert world.certificates.reads == certificate_reads and world.vault.reads == directory_reads + 1
    world.clock.advance(days=61)
    certificate_reads, directory_reads = world.certificates.reads, world.vault.reads
    renewed = renew_if_due("web", world.services, deadline())
    assert world.certificates.reads == certificate_reads and world.vault.reads == directory_reads + 1
    assert renewed is not None and renewed.state.serial != issued.state.serial


def test_the_directorys_policy_and_state_are_read_again_at_each_issuance():
    world = World()
    world.define("web", "www.example.com")
    world.define("api", "api.example.com")
    issue_certificate("web", world.services, deadline())

    world.vault.set_policy(DIRECTORY, DirectoryPolicy(allowed_domains=("example.org",)))
    with pytest.raises(Forbidden):
        issue_certificate("api", world.services, deadline())
    world.vault.set_policy(DIRECTORY, DirectoryPolicy())
    world.vault.set_state(DIRECTORY, DirectoryState(status=DirectoryStatus.LOST))
    with pytest.raises(DirectoryLost):
        issue_certificate("api", world.services, deadline())
    world.vault.set_state(DIRECTORY, DirectoryState())
    assert issue_certificate("api", world.services, deadline()).state.serial is not None
    assert world.ca.calls["place_order"] == 2


def test_an_order_for_other_names_than_the_spec_is_dropped_before_any_record_is_written():
    world = World()
    world.ca.answer_names = ("www.example.com", "evil.example.com")
    world.define("web", "www.example.com")
    with pytest.raises(OrderMismatch):
        issue_certificate("web", world.services, deadline())
    state = world.record("web").state
    assert world.dns.published == [] and state.pending is None and state.status is Status.FAILED


def test_too_little_time_to_answer_keeps_the_order_for_the_next_attempt():
    world = World()
    world.define("web", "www.example.com")
    with pytest.raises(OutOfTime):
        issue_certificate("web", world.services, deadline(5))
    pending = world.record("web").state.pending
    assert pending is not None and world.ca.calls["answer"] == 0 and world.dns.records == set()

    issued = issue_certificate("web", world.services, deadline())
    assert world.ca.order_for(issued.state.serial).url == pending.order_url and world.ca.calls["place_order"] == 1


def test_a_failed_validation_is_recorded_and_its_records_removed():
    world = World()
    world.define("web", "www.example.com")
    world.ca.before("answer", world.dns.records.clear)  # the record is gone when the CA looks
    with pytest.raises(ChallengeFailed):
        issue_certificate("web", world.services, deadline())
    state = world.record("web").state
    assert state.status is Status.FAILED and state.last_error.startswith("challenge_failed: www.example.com")
    assert world.dns.records == set()


def test_challenge_none_needs_the_ca_to_hold_every_name_valid():
    world = World()
    world.define("web", "www.example.com", challenge="none")
    with pytest.raises(AuthorizationRequired):
        issue_certificate("web", world.services, deadline())
    assert world.dns.published == []
    world.ca.prevalidated = {"www.example.com"}
    assert issue_certificate("web", world.services, deadline()).state.status is Status.ISSUED


# -- ACM regions ---------------------------------------------------------------------------------------


def test_a_failing_region_holds_back_nothing_and_is_caught_up_later_without_a_new_order():
    world = World(regions=("us-east-1", "eu-west-1"))
    world.define("web", "www.example.com")
    world.acm.failing.add("eu-west-1")

    issue_certificate("web", world.services, deadline())

    (serial,) = world.ca.issued_serials()
    state = world.record("web").state
    assert state.serial == serial and world.files.current("web")["metadata"]["serial"] == serial
    assert world.acm.serial_in("us-east-1", state.regions["us-east-1"].arn) == serial
    assert state.regions["eu-west-1"].status is RegionStatus.FAILED and state.regions["eu-west-1"].arn is None
    assert state.consecutive_failures == 1 and state.retry_at > world.clock.now and state.catch_up is not None
    (told,) = world.outlets.of_type("Certificate Region Failed")
    assert told["region"] == "eu-west-1"
    assert renew_if_due("web", world.services, deadline()) is None  # not before its retry time

    world.acm.failing.clear()
    world.clock.now = state.retry_at
    caught_up = renew_if_due("web", world.services, deadline())

    assert caught_up is not None and world.ca.calls["place_order"] == 1
    eu = caught_up.state.regions["eu-west-1"]
    assert eu.status is RegionStatus.SERVED and world.acm.serial_in("eu-west-1", eu.arn) == serial
    assert caught_up.state.catch_up is None and caught_up.state.retry_at is None
    assert caught_up.state.consecutive_failures == 0


def test_a_worker_killed_between_two_regions_leaves_no_second_acm_certificate_behind(monkeypatch):
    world = World(regions=("us-east-1", "eu-west-1"))
    world.define("web", "www.example.com")
    real = world.acm.import_certificate

    def import_certificate(region: str, *args: object) -> str:
        if region == "eu-west-1":
            monkeypatch.setattr(world.acm, "import_certificate", real)
            raise WorkerKilled
        return real(region, *args)

    monkeypatch.setattr(world.acm, "import_certificate", import_certificate)
    with pytest.raises(WorkerKilled):
        issue_certificate("web", world.services, deadline())

    issued = issue_certificate("web", world.services, deadline())

    in_us_east = [arn for region, arn in world.acm.certificates if region == "us-east-1"]
    assert in_us_east == [issued.state.regions["us-east-1"].arn]  # the first import's ARN was re-imported into
    assert world.ca.calls["place_order"] == 1


def test_a_region_dropped_from_the_spec_is_told_and_left_as_it_is():
    world = World()
    world.define("web", "www.example.com", acm_regions=["us-east-1", "eu-west-1"])
    first = issue_certificate("web", world.services, deadline())
    eu_arn = first.state.regions["eu-west-1"].arn

    world.define("web", "www.example.com", acm_regions=["us-east-1"])
    (told,) = world.outlets.of_type("Certificate Region Dropped")
    assert told["region"] == "eu-west-1" and told["arn"] == eu_arn
    assert list(world.certificates.due(world.clock.now)) == []  # what serves still satisfies the spec

    world.clock.advance(days=61)
    renewed = renew_if_due("web", world.services, deadline())
    assert world.acm.serial_in("us-east-1", renewed.state.regions["us-east-1"].arn) == renewed.state.serial
    assert world.acm.serial_in("eu-west-1", eu_arn) == first.state.serial  # never renewed


def test_a_lagging_region_dropped_from_the_spec_leaves_nothing_to_catch_up():
    world = World()
    world.define("web", "www.example.com", acm_regions=["us-east-1", "eu-west-1"])
    world.acm.failing.add("eu-west-1")
    issue_certificate("web", world.services, deadline())
    assert world.record("web").state.catch_up is not None

    world.define("web", "www.example.com", acm_regions=["us-east-1"])
    world.clock.advance(hours=1)
    assert renew_if_due("web", world.services, deadline()) is None

    state = world.record("web").state
    assert state.catch_up is None and state.retry_at is None and state.last_error is None
    assert world.ca.calls["place_order"] == 1 and world.acm.imports == 1


# -- an order the CA holds -----------------------------------------------------------------------------


def test_an_order_the_ca_holds_is_a_wait_not_a_failure_and_the_same_order_is_finished_later():
    world = World()
    world.define("web", "www.example.com")
    world.ca.hold = True

    waiting = issue_certificate("web", world.services, deadline())

    state = world.record("web").state
    assert waiting.state.status is Status.AWAITING_CA and state.status is Status.AWAITING_CA
    assert state.awaiting_since == world.clock.now and state.retry_at == world.clock.now + timedelta(seconds=120)
    assert state.consecutive_failures == 0 and state.last_error is None
    assert world.outlets.of_type("Certificate Renewal Failed") == [] and world.metrics.named("RenewalFailed") == []
    assert world.certificates.history("web")[0]["action"] == "awaiting the CA"

    world.ca.hold = False
    world.clock.now = state.retry_at
    issued = renew_if_due("web", world.services, deadline())
    assert issued is not None and issued.state.status is Status.ISSUED and issued.state.awaiting_since is None
    assert world.ca.calls["place_order"] == 1 and world.ca.order_for(issued.state.serial).url == state.pending.order_url


def test_an_order_the_ca_held_and_then_refused_is_a_failure_that_ends_the_wait():
    world = World()
    world.define("web", "www.example.com")
    world.ca.hold = True
    issue_certificate("web", world.services, deadline())
    order = world.record("web").state.pending.order_url

    world.ca.invalidate(order, "the approver said no")
    world.clock.advance(minutes=2)
    with pytest.raises(CaError, match="the approver said no"):
        renew_if_due("web", world.services, deadline())

    state = world.record("web").state
    assert world.ca.calls["place_order"] == 1  # the refusal is reported, not filed again at once
    assert state.status is Status.FAILED and state.awaiting_since is None and state.consecutive_failures == 1


# -- failures and backoff ------------------------------------------------------------------------------


def test_failures_back_off_and_the_next_attempt_waits_for_its_time():
    world = World()
    world.define("web", "www.example.com")
    start = world.clock.now
    world.ca.fail("place_order", CaUnavailable("placing the order: cannot reach the CA"))
    with pytest.raises(CaUnavailable):
        issue_certificate("web", world.services, deadline())
    first = world.record("web").state
    assert first.status is Status.FAILED and first.consecutive_failures == 1
    assert first.last_error == "ca_unavailable: placing the order: cannot reach the CA"
    assert start + timedelta(seconds=150) <= first.retry_at <= start + timedelta(seconds=300)

    world.clock.now = first.retry_at
    world.ca.fail("place_order", CaUnavailable("rate limited", retry_after=3600))
    with pytest.raises(CaUnavailable):
        renew_if_due("web", world.services, deadline())
    second = world.record("web").state
    assert second.consecutive_failures == 2 and second.retry_at >= first.retry_at + timedelta(seconds=3600)

    # the sweep queues it again at its retry time, not before
    assert list(world.certificates.due(second.retry_at - timedelta(seconds=1))) == []
    assert list(world.certificates.due(second.retry_at)) == ["web"]

    world.clock.now = second.retry_at
    issued = renew_if_due("web", world.services, deadline())
    assert issued.state.consecutive_failures == 0 and issued.state.last_error is None and issued.state.retry_at is None
    (failed, _) = world.outlets.of_type("Certificate Renewal Failed")
    assert failed["error"] == "ca_unavailable"


def test_a_failed_renewal_keeps_the_previous_certificate_serving():
    world = World()
    world.define("web", "www.example.com")
    first = issue_certificate("web", world.services, deadline())
    arn = first.state.regions["us-east-1"].arn
    world.clock.advance(days=61)
    world.ca.fail("finalize", Unauthorized("finalizing the order: the CA refused (unauthorized)", "unauthorized"))

    with pytest.raises(Unauthorized):
        renew_if_due("web", world.services, deadline())

    state = world.record("web").state
    assert state.status is Status.ISSUED and state.serial == first.state.serial
    assert state.last_error.startswith("ca_refused: ") and state.consecutive_failures == 1
    assert world.acm.serial_in("us-east-1", arn) == first.state.serial and len(world.files.versions["web"]) == 1
    (alert,) = world.outlets.alerted
    assert alert[0] == "acmevault: renewal of web failed"


def test_telling_people_never_fails_the_issuance():
    world = World()
    world.define("web", "www.example.com")
    world.outlets.down = True
    issued = issue_certificate("web", world.services, deadline())
    assert issued.state.status is Status.ISSUED and world.record("web").state.serial == issued.state.serial


# -- the lease -----------------------------------------------------------------------------------------


def test_a_certificate_another_worker_holds_is_left_alone():
    world = World()
    world.define("web", "www.example.com")
    world.certificates.acquire_lease("web", "other worker", world.clock.now, LEASE_SECONDS)
    with pytest.raises(LeaseHeld) as held:
        issue_certificate("web", world.services, deadline())
    assert held.value.until == world.clock.now + timedelta(seconds=LEASE_SECONDS)
    assert world.ca.calls["place_order"] == 0 and world.certificates.lease_holder("web") == "other worker"


def test_a_worker_whose_lease_was_taken_over_writes_nothing_more():
    world = World()
    world.define("web", "www.example.com")

    def taken_over() -> None:
        world.clock.advance(seconds=LEASE_SECONDS + 1)
        world.certificates.acquire_lease("web", "other worker", world.clock.now, LEASE_SECONDS)

    world.ca.before("finalize", taken_over)
    with pytest.raises(LeaseLost):
        issue_certificate("web", world.services, deadline())

    state = world.record("web").state
    assert state.pending.fullchain is None  # the download it made was not written over the other's state
    assert state.last_error is None and state.consecutive_failures == 0
    assert world.files.versions == {} and world.acm.imports == 0
    assert world.certificates.lease_holder("web") == "other worker"
    assert world.outlets.of_type("Certificate Renewal Failed") == []


# -- revocation ----------------------------------------------------------------------------------------


def test_a_revocation_is_made_at_the_ca_and_marked_on_every_copy():
    world = World(regions=("us-east-1", "eu-west-1"))
    world.define("web", "www.example.com")
    issued = issue_certificate("web", world.services, deadline())
    serial = issued.state.serial

    revoked = revoke_certificate("web", RevocationReason.KEY_COMPROMISE, world.services)

    assert world.ca.revoked == {serial: 1}
    assert world.files.current("web")["metadata"]["revoked"]["serial"] == serial
    for region in ("us-east-1", "eu-west-1"):
        assert world.acm.revoked[(region, issued.state.regions[region].arn)] == "keyCompromise"
    state = world.record("web").state
    assert revoked.state.status is Status.REVOKED and state.status is Status.REVOKED and state.serial == serial
    assert world.certificates.due_at("web") is None  # the sweep never renews it
    assert world.certificates.history("web")[0]["action"] == "revoked"
    (event,) = world.outlets.of_type("Certificate Revoked")
    assert event["serial"] == serial and event["reason_code"] == 1
    with pytest.raises(ConflictError):
        revoke_certificate("web", RevocationReason.KEY_COMPROMISE, world.services)
    assert world.ca.calls["revoke"] == 1


def test_a_certificate_the_ca_revoked_already_is_still_marked_revoked():
    world = World()
    world.define("web", "www.example.com")
    issued = issue_certificate("web", world.services, deadline())
    world.ca.revoked[issued.state.serial] = 0  # revoked at the CA by other means

    revoke_certificate("web", RevocationReason.SUPERSEDED, world.services)

    assert world.record("web").state.status is Status.REVOKED
    assert world.files.current("web")["metadata"]["revoked"]["reason"] == "superseded"


def test_a_certificate_issued_through_a_directory_url_no_longer_in_use_is_revoked_there_with_its_own_key():
    world = World()
    world.define("web", "www.example.com")
    issued = issue_certificate("web", world.services, deadline())
    moved = ScriptedCa(world.dns, world.clock, directory_url="https://other-ca.test/directory")
    world.add_ca(moved, "ca", "https://other-ca.test/account/9")  # the directory was replaced since

    revoke_certificate("web", RevocationReason.CESSATION_OF_OPERATION, world.services)

    assert world.ca.revoked_by_key_holder == [issued.state.serial] and world.ca.revoked == {issued.state.serial: 5}
    assert moved.calls["revoke"] == 0 and moved.revoked == {}


def test_a_revoked_certificate_issued_again_serves_valid_in_the_same_arn():
    world = World()
    world.define("web", "www.example.com")
    first = issue_certificate("web", world.services, deadline())
    arn = first.state.regions["us-east-1"].arn
    revoke_certificate("web", RevocationReason.KEY_COMPROMISE, world.services)

    again = issue_certificate("web", world.services, deadline())

    assert again.state.status is Status.ISSUED and again.state.serial != first.state.serial
    assert world.acm.serial_in("us-east-1", arn) == again.state.serial and world.acm.revoked == {}


def test_a_revocation_whose_lease_was_taken_over_writes_no_state(monkeypatch: pytest.MonkeyPatch):
    world = World()
    world.define("web", "www.example.com")
    issue_certificate("web", world.services, deadline())
    real = world.files.mark_revoked

    def slow_mark_revoked(name: str, revoked: dict[str, object]) -> None:
        # the revoking worker stalls past its lease, and another worker takes the certificate over
        later = world.clock() + timedelta(seconds=LEASE_SECONDS + 1)
        world.certificates.acquire_lease(name, "the-next-worker", later, LEASE_SECONDS)
        real(name, revoked)

    monkeypatch.setattr(world.files, "mark_revoked", slow_mark_revoked)
    with pytest.raises(LeaseLost):
        revoke_certificate("web", RevocationReason.KEY_COMPROMISE, world.services)

    assert world.record("web").state.status is Status.ISSUED  # the stale worker wrote nothing over it
    assert world.certificates.lease_holder("web") == "the-next-worker"
