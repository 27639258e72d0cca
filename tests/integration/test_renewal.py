"""Scheduled renewals against real Pebble + moto server: due dates, leases, resumption, regions, nonces."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from acmevault.app.issuance import issue_certificate, renew_if_due, renew_on_request
from acmevault.app.renewal import renew_due
from acmevault.app.services import Services
from acmevault.composition.config import Settings
from acmevault.composition.services import build
from acmevault.domain.certificate import default_renew_at
from acmevault.domain.errors import AwsUnavailable, CaUnavailable, LeaseHeld

from tests.conftest import register_secret, second_pebble

REGIONS = ("us-east-1", "eu-west-1")


def fresh_services(stack: Any, **changes: Any) -> Services:
    return replace(build(Settings.from_env(stack.env)), **changes)


def orders_at_pebble(services: Services, directory: str) -> int:
    """Count the account's orders as Pebble lists them: counted, not guessed."""
    return len(services.accounts.session(directory).order_urls())


def define(cli: Any, name: str, directory: str, *extra: str) -> None:
    result = cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory, *extra)
    assert result.code == 0, result.err


def serial(services: Services, name: str) -> str | None:
    return services.certificates.get(name).state.serial


# -- when is a certificate due ---------------------------------------------------------------------

LIFETIMES = [  # (lifetime in days, age in days, due?)
    (6, 4, True),
    (6, 2, False),
    (47, 32, True),
    (47, 30, False),
    (90, 61, True),
    (90, 59, False),
    (365, 244, True),
    (365, 200, False),
]


def test_a_sweep_renews_exactly_the_due_ones_and_a_second_sweep_none(stack, cli, directory, unique):
    services = fresh_services(stack)
    now = datetime.now(UTC)
    names = []
    # GIVEN issued certificates, recorded as if of mixed lifetimes and ages
    for i, (lifetime, age, _) in enumerate(LIFETIMES):
        name = f"life{i}-{unique}"
        define(cli, name, directory)
        assert cli("cert", "issue", name).code == 0
        not_before = now - timedelta(days=age)
        not_after = not_before + timedelta(days=lifetime)
        state = services.certificates.get(name).state
        services.certificates.save_state(
            name,
            replace(
                state, not_before=not_before, not_after=not_after, renew_at=default_renew_at(not_before, not_after)
            ),
        )
        names.append(name)
    before = {n: serial(services, n) for n in names}
    # WHEN the sweep runs (in process, as `acmevault renew --due` does)
    renew_due(services, now, timeout=60)
    # THEN exactly the due ones were renewed
    renewed = {n for n in names if serial(services, n) != before[n]}
    assert renewed == {n for n, (_, _, due) in zip(names, LIFETIMES, strict=True) if due}
    # AND a second sweep right after renews none of them
    after_first = {n: serial(services, n) for n in names}
    renew_due(services, datetime.now(UTC), timeout=60)
    assert {n: serial(services, n) for n in names} == after_first


def test_a_renewed_certificate_is_due_again_after_two_thirds_of_its_life(stack, cli, directory, unique):
    name = f"next-{unique}"
    define(cli, name, directory)
    assert cli("cert", "issue", name).code == 0
    state = fresh_services(stack).certificates.get(name).state
    assert state.not_before is not None and state.not_after is not None
    lifetime = state.not_after - state.not_before
    assert state.renew_at == state.not_after - lifetime / 3
    assert state.due_at == state.renew_at


def test_a_per_certificate_fraction_overrides_the_default(stack, directory, unique):
    from acmevault.app.definition import define_certificate
    from acmevault.domain.certificate import CertificateSpec

    services = fresh_services(stack)
    name = f"frac-{unique}"
    spec = CertificateSpec.parse(
        name, {"domains": [f"{name}.example.com"], "directory": directory, "renew_fraction": 0.5}
    )
    define_certificate(spec, services)
    state = issue_certificate(name, services, time.monotonic() + 60).state
    assert state.not_before is not None and state.not_after is not None
    assert state.renew_at == state.not_after - (state.not_after - state.not_before) / 2


# -- exactly one order at a time ---------------------------------------------------------------------


def test_twenty_concurrent_triggers_place_one_order(stack, cli, unique):
    # a directory of its own, so Pebble's order list is this test's alone
    directory = f"conc-{unique}"
    assert (
        cli(
            "directory", "put", directory, "--url", stack.directory_url, "--eab-kid", "kid-3", stdin=stack.hmac("kid-3")
        ).code
        == 0
    )
    name = f"race-{unique}"
    define(cli, name, directory)
    services = fresh_services(stack)
    start = threading.Barrier(20)

    def trigger(index: int) -> str:
        # What the worker gets: scheduled messages and on-demand ones asked for while nothing was issued
        # (requested_serial None). A thread the loaded machine starts late, after the first one released
        # the lease, must find the work done rather than order again.
        start.wait()  # all twenty at the same moment
        try:
            if index % 2:
                issued = renew_if_due(name, services, time.monotonic() + 60)
            else:
                issued = renew_on_request(name, services, time.monotonic() + 60, requested_serial=None)
        except LeaseHeld:
            return "lease held"
        return "issued" if issued is not None else "done already"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(trigger, range(20)))
    assert outcomes.count("issued") == 1, outcomes
    assert outcomes.count("lease held") + outcomes.count("done already") == 19, outcomes
    assert orders_at_pebble(services, directory) == 1


# -- resumable ------------------------------------------------------------------------------------

CRASH = textwrap.dedent(
    """
    import os, sys, time
    from acmevault.adapters.acme.session import AcmeSession
    from acmevault.adapters.aws.acm import AcmImporter
    from acmevault.app.issuance import issue_certificate
    from acmevault.composition.services import services

    point = sys.argv[2]
    def die(*args, **kwargs):
        os._exit(137)  # as a Lambda timeout or an out-of-memory kill would: no cleanup at all
    if point == "before-finalize":
        AcmeSession.finalize = die
    elif point == "before-acm-import":
        AcmImporter.import_certificate = die
    issue_certificate(sys.argv[1], services(), time.monotonic() + 60)
    """
)


@pytest.mark.parametrize("point", ["before-finalize", "before-acm-import"])
def test_a_worker_killed_mid_issue_is_resumed_not_reordered(stack, cli, unique, point):
    directory = f"crash-{unique}"
    assert (
        cli(
            "directory", "put", directory, "--url", stack.directory_url, "--eab-kid", "kid-2", stdin=stack.hmac("kid-2")
        ).code
        == 0
    )
    name = f"crash-{unique}"
    define(cli, name, directory)
    # WHEN a worker dies part-way
    died = subprocess.run(
        [sys.executable, "-c", CRASH, name, point],
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert died.returncode == 137, died.stderr
    services = fresh_services(stack)
    pending = services.certificates.get(name).state.pending
    assert pending is not None
    assert (pending.fullchain is not None) == (point == "before-acm-import")
    assert orders_at_pebble(services, directory) == 1
    # THEN after its lease runs out, the next attempt finishes that order
    later = fresh_services(stack, clock=lambda: datetime.now(UTC) + timedelta(minutes=16))
    issued = issue_certificate(name, later, time.monotonic() + 60)
    assert issued.state.pending is None
    assert orders_at_pebble(services, directory) == 1
    arn = issued.state.acm_arns["us-east-1"]
    got = stack.aws("acm").get_certificate(CertificateArn=arn)["Certificate"]
    assert issued.state.certificate_pem is not None
    assert got.strip() == issued.state.certificate_pem.strip()
    # the new key was never in the table in clear
    item = stack.aws("dynamodb").get_item(
        TableName=stack.env["ACMEVAULT_TABLE"], Key={"pk": {"S": "CERT"}, "sk": {"S": name}}
    )["Item"]
    assert "PRIVATE KEY" not in json.dumps(item, default=str)


def test_while_a_lease_is_held_another_worker_is_refused(stack, cli, directory, unique):
    name = f"held-{unique}"
    define(cli, name, directory)
    services = fresh_services(stack)
    services.certificates.acquire_lease(name, "someone-else", datetime.now(UTC), 900)
    with pytest.raises(LeaseHeld, match="another worker"):
        issue_certificate(name, services, time.monotonic() + 60)
    result = cli("cert", "issue", name)
    assert result.code == 1
    assert "another worker" in result.err


# -- several regions --------------------------------------------------------------------------------


class FlakyAcm:
    """The real ACM adapter, but one region throttles once: as ACM does under load. Counts the imports."""

    def __init__(self, real: Any, region: str) -> None:
        self.real, self.region, self.failed = real, region, False
        self.imports: list[str] = []

    def import_certificate(self, region: str, name: str, bundle: Any, arn: str | None) -> str:
        self.imports.append(region)
        if region == self.region and not self.failed:
            self.failed = True
            raise AwsUnavailable(f"importing certificate {name!r} into ACM in {region}: ThrottlingException")
        return str(self.real.import_certificate(region, name, bundle, arn))

    def clear_revoked(self, region: str, arn: str) -> None:
        self.real.clear_revoked(region, arn)


def test_every_region_keeps_its_arn_and_a_failed_region_is_retried_on_its_own_without_reordering(stack, cli, unique):
    directory = f"regions-{unique}"
    assert (
        cli("directory", "put", directory, "--url", stack.directory_url, "--eab-kid", "kid-1", stdin=stack.hmac()).code
        == 0
    )
    name = f"cf-{unique}"
    define(cli, name, directory, *[a for r in REGIONS for a in ("--acm-region", r)])
    assert cli("cert", "issue", name).code == 0
    services = fresh_services(stack)
    first = services.certificates.get(name).state
    assert set(first.acm_arns) == set(REGIONS)
    # WHEN one region throttles during a renewal
    flaky = fresh_services(stack, acm=FlakyAcm(services.acm, "eu-west-1"))
    renewed = issue_certificate(name, flaky, time.monotonic() + 60).state
    orders = orders_at_pebble(services, directory)
    # THEN the certificate, S3 and the other region move on; the failed region keeps its previous certificate
    assert renewed.serial != first.serial and renewed.acm_arns == first.acm_arns
    assert renewed.regions["us-east-1"].serial == renewed.serial
    assert renewed.regions["eu-west-1"].serial == first.serial and renewed.regions["eu-west-1"].status.value == "failed"
    assert services.files.get_certificate_pem(name).strip() == (renewed.certificate_pem or "").strip()
    shown = json.loads(cli("cert", "show", name, "--json").out)
    assert shown["regions"]["eu-west-1"]["status"] == "failed" and "ThrottlingException" in shown["last_error"]
    # WHEN the retry comes (the sweep, once the retry time has come)
    counting = FlakyAcm(services.acm, "none")
    later = fresh_services(stack, acm=counting, clock=lambda: datetime.now(UTC) + timedelta(hours=7))
    assert renew_if_due(name, later, time.monotonic() + 60) is not None
    # THEN only the failed region is imported, the certificate already issued, same ARNs, no new order
    assert counting.imports == ["eu-west-1"]
    assert orders_at_pebble(services, directory) == orders
    caught_up = services.certificates.get(name).state
    assert caught_up.serial == renewed.serial and caught_up.acm_arns == first.acm_arns and caught_up.catch_up is None
    for region in REGIONS:
        got = stack.aws("acm", region).get_certificate(CertificateArn=caught_up.acm_arns[region])["Certificate"]
        assert got.strip() == (renewed.certificate_pem or "").strip()
        assert caught_up.regions[region].status.value == "served"


def test_a_lagging_region_dropped_from_the_spec_is_not_caught_up_and_costs_no_order(stack, cli, unique):
    directory = f"lagdrop-{unique}"
    put = cli("directory", "put", directory, "--url", stack.directory_url, "--eab-kid", "kid-1", stdin=stack.hmac())
    assert put.code == 0
    name = f"ld-{unique}"
    define(cli, name, directory, *[a for r in REGIONS for a in ("--acm-region", r)])
    services = fresh_services(stack)
    # GIVEN eu-west-1 lagging after its import failed
    lagging = issue_certificate(
        name, fresh_services(stack, acm=FlakyAcm(services.acm, "eu-west-1")), time.monotonic() + 60
    )
    assert lagging.state.catch_up is not None
    orders = orders_at_pebble(services, directory)
    # WHEN the spec drops eu-west-1 and the sweep comes at the retry time
    define(cli, name, directory, "--acm-region", "us-east-1")
    later = fresh_services(stack, clock=lambda: datetime.now(UTC) + timedelta(hours=7))
    assert renew_if_due(name, later, time.monotonic() + 60) is None
    # THEN nothing is ordered or imported; the kept key and the retry are gone; the region is reported, not hidden
    assert orders_at_pebble(services, directory) == orders
    state = services.certificates.get(name).state
    assert state.catch_up is None and state.retry_at is None and state.serial == lagging.state.serial
    assert json.loads(cli("cert", "show", name, "--json").out)["dropped_regions"] == ["eu-west-1"]


# -- a CA that rejects nonces often ------------------------------------------------------------------


@pytest.fixture(scope="module")
def nonce_hostile_pebble(tmp_path_factory: pytest.TempPathFactory, stack: Any) -> Any:
    """A second Pebble that rejects 30 % of good nonces (its own moto is started but not used)."""
    with second_pebble(tmp_path_factory, stack, "hostile", pebble_env={"PEBBLE_WFE_NONCEREJECT": "30"}) as other:
        yield other


def test_one_hundred_renewals_succeed_with_thirty_percent_of_nonces_rejected(stack, cli, unique, nonce_hostile_pebble):
    register_secret(*nonce_hostile_pebble.eab_keys().values())
    directory = f"hostile-{unique}"
    assert (
        cli(
            "directory",
            "put",
            directory,
            "--url",
            nonce_hostile_pebble.directory_url,
            "--eab-kid",
            "kid-1",
            stdin=nonce_hostile_pebble.eab_keys()["kid-1"],
        ).code
        == 0
    )
    names = [f"n{i}-{unique}" for i in range(20)]
    for name in names:
        define(cli, name, directory)
    services = fresh_services(stack)

    def renew_five_times(name: str) -> list[str]:
        return [str(issue_certificate(name, services, time.monotonic() + 60).state.serial) for _ in range(5)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        serials = [s for batch in pool.map(renew_five_times, names) for s in batch]
    assert len(serials) == 100
    assert len(set(serials)) == 100


# -- telling people --------------------------------------------------------------------------------


def inbox(stack: Any, variable: str) -> list[Any]:
    sqs, url = stack.aws("sqs"), stack.env[variable]
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        bodies += [m["Body"] for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        )
    return bodies


def test_a_certificate_close_to_expiry_is_told_once_a_day(stack, cli, directory, unique):
    from acmevault.app.sweep import sweep
    from acmevault.composition.services import queue

    name = f"exp-{unique}"
    define(cli, name, directory)
    assert cli("cert", "issue", name).code == 0
    services = fresh_services(stack)
    now = datetime.now(UTC)
    state = services.certificates.get(name).state
    services.certificates.save_state(name, replace(state, alert_at=now - timedelta(minutes=1)))
    inbox(stack, "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL")
    # WHEN the sweep runs twice
    first = sweep(now, services, queue())
    second = sweep(now, services, queue())
    # THEN people are told once (an SNS alert and a "Certificate Expiring" event), and again only tomorrow
    assert name in first.expiring
    assert name not in second.expiring
    alerts = [a for a in inbox(stack, "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL") if name in a]
    assert len(alerts) == 1
    events = [json.loads(e) for e in inbox(stack, "ACMEVAULT_LOCAL_EVENTS_QUEUE_URL")]
    expiring = [e for e in events if e["detail-type"] == "Certificate Expiring" and e["detail"]["certificate"] == name]
    assert len(expiring) == 1
    assert services.certificates.get(name).state.alert_at > now + timedelta(hours=23)
    inbox(stack, "ACMEVAULT_QUEUE_URL")  # what the sweeps queued is not this test's business


def test_a_failed_renewal_is_told_by_event_and_alert(stack, cli, unique):
    sm = stack.aws("secretsmanager")
    directory = f"gone-{unique}"
    assert (
        cli("directory", "put", directory, "--url", stack.directory_url, "--eab-kid", "kid-1", stdin=stack.hmac()).code
        == 0
    )
    name = f"fail-{unique}"
    define(cli, name, directory)
    secret_id = f"acmevault/acmevault-local/directories/{directory}"
    value = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    sm.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({**value, "directory_url": "https://127.0.0.1:9/d"})
    )
    inbox(stack, "ACMEVAULT_LOCAL_EVENTS_QUEUE_URL")
    with pytest.raises(CaUnavailable):
        issue_certificate(name, fresh_services(stack), time.monotonic() + 60)  # a new container: no cache
    events = [json.loads(e) for e in inbox(stack, "ACMEVAULT_LOCAL_EVENTS_QUEUE_URL")]
    failed = [
        e for e in events if e["detail-type"] == "Certificate Renewal Failed" and e["detail"]["certificate"] == name
    ]
    assert len(failed) == 1
    assert failed[0]["detail"]["error"] == "ca_unavailable"
    assert any(name in a for a in inbox(stack, "ACMEVAULT_LOCAL_ALERTS_QUEUE_URL"))
    record = fresh_services(stack).certificates.get(name).state
    assert record.consecutive_failures == 1
    assert record.retry_at is not None and record.retry_at > datetime.now(UTC) + timedelta(minutes=2)
