"""Never wedge, never duplicate (issue 10): changed specs, failing regions, redelivered messages and
leases, each driven through the real handlers (IssueFunction, ApiFunction) or the CLI on the local stack.

Faults are injected in AWS (an S3 put, a Route 53 write) by wrapping the real adapters: the vendor
fails, our code runs unchanged.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from acmevault.adapters.aws.s3 import S3Store
from acmevault.app.issuance import issue_certificate
from acmevault.app.services import Services
from acmevault.composition.config import Settings
from acmevault.composition.services import build
from acmevault.domain.errors import AwsUnavailable, DnsError
from cryptography import x509

from tests.e2e.api_client import call, event, sample
from tests.e2e.test_api import events_of
from tests.e2e.test_handlers import run, status


def fresh_services(stack: Any, **changes: Any) -> Services:
    return replace(build(Settings.from_env(stack.env)), **changes)


class FailingS3(S3Store):
    """S3 refusing every put (the client's retries exhausted): the certificate stays downloaded, unpushed."""

    def put_bundle(self, name: str, bundle: Any, metadata: dict[str, Any]) -> dict[str, str]:
        raise AwsUnavailable(f"storing {name!r} in S3: AWS is throttling or failing (SlowDown)")


class FailingRoute53:
    """Route 53 refusing the challenge records: the order stays placed, never finalized."""

    def zone_for(self, domain: str, hosted_zone_id: str | None = None, role_arn: str | None = None) -> str:
        return "Z1"

    def publish(self, records: Any, deadline: float, role_arn: str | None = None) -> None:
        raise DnsError("writing the challenge records: Route 53 refused (Throttling)")

    def remove(self, records: Any, role_arn: str | None = None) -> None:
        pass


def sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    template = sample("issue-sqs.json")["Records"][0]
    return {"Records": [{**template, "messageId": f"m-{i}", "body": json.dumps(b)} for i, b in enumerate(bodies)]}


def scheduled(name: str) -> dict[str, Any]:
    return sqs_event({"certificate": name, "reason": "renewal"})


def served_names(stack: Any, name: str) -> set[str]:
    s3 = stack.aws("s3")
    pem = s3.get_object(Bucket=stack.env["ACMEVAULT_BUCKET"], Key=f"certificates/{name}/cert.pem")["Body"].read()
    san = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return set(san.value.get_values_for_type(x509.DNSName))


def orders(stack: Any, directory: str) -> dict[str, tuple[str, frozenset[str]]]:
    """Every order of the directory's account at Pebble: status and identifiers (counted, not guessed)."""
    session = fresh_services(stack).accounts.session(directory)
    found = {}
    for url in session.order_urls():
        order = session._post_as_get(url).json()
        found[url] = (str(order["status"]), frozenset(i["value"] for i in order["identifiers"]))
    return found


def history(stack: Any, name: str) -> list[str]:
    return [h["action"] for h in fresh_services(stack).certificates.history(name)]


# -- a spec changed while an order is in flight ----------------------------------------------------


def test_a_name_added_while_a_downloaded_certificate_waits_is_ordered_anew_not_wedged(stack, cli, directory, unique):
    name, first, added = f"add-{unique}", f"a.{unique}.example.com", f"b.{unique}.example.com"
    assert cli("cert", "put", name, "-d", first, "--directory", directory).code == 0
    # GIVEN a certificate downloaded but not pushed (S3 refused it)
    with pytest.raises(AwsUnavailable):
        issue_certificate(
            name, fresh_services(stack, files=FailingS3(stack.env["ACMEVAULT_BUCKET"])), 60 + time.monotonic()
        )
    assert status(cli, name)["pending_order"]["downloaded"] is True
    # AND a name added to the spec since
    assert cli("cert", "put", name, "-d", first, "-d", added, "--directory", directory).code == 0
    # WHEN the issue worker gets the certificate's message
    result = run(stack, "IssueFunction", scheduled(name))
    # THEN the downloaded certificate (which lacks the name) is dropped, and the spec is issued as it is now
    assert result == {"batchItemFailures": []}
    shown = status(cli, name)
    assert shown["status"] == "issued" and shown["pending_order"] is None and shown["last_error"] is None
    assert served_names(stack, name) == {first, added}
    assert "pending order dropped" in history(stack, name)


def test_a_name_added_while_an_order_is_in_flight_drops_the_order_instead_of_failing_until_it_expires(
    stack, cli, directory, unique
):
    name, first, added = f"inflight-{unique}", f"a.{unique}.example.com", f"b.{unique}.example.com"
    assert cli("cert", "put", name, "-d", first, "--directory", directory, "--challenge", "dns-01").code == 0
    # GIVEN an order placed and not finalized (Route 53 refused the challenge record)
    with pytest.raises(DnsError):
        issue_certificate(name, fresh_services(stack, dns=FailingRoute53()), time.monotonic() + 60)
    pending = status(cli, name)["pending_order"]
    assert pending["domains"] == [first] and pending["downloaded"] is False
    # AND a name added to the spec since
    assert (
        cli("cert", "put", name, "-d", first, "-d", added, "--directory", directory, "--challenge", "dns-01").code == 0
    )
    # WHEN the issue worker gets the certificate's message
    assert run(stack, "IssueFunction", scheduled(name)) == {"batchItemFailures": []}
    # THEN the order for the old names is dropped (it expires at the CA) and a new one is placed and served
    shown = status(cli, name)
    assert shown["status"] == "issued" and shown["pending_order"] is None
    assert served_names(stack, name) == {first, added}
    placed = orders(stack, directory)
    assert sorted(ids for _, ids in placed.values()) == [frozenset({first}), frozenset({first, added})]
    assert [s for s, ids in placed.values() if ids == {first, added}] == ["valid"]


def test_a_downloaded_certificate_that_still_covers_the_spec_is_served_then_the_exact_one_ordered(
    stack, cli, directory, unique
):
    name, kept, removed = f"cover-{unique}", f"a.{unique}.example.com", f"b.{unique}.example.com"
    assert cli("cert", "put", name, "-d", kept, "-d", removed, "--directory", directory).code == 0
    with pytest.raises(AwsUnavailable):
        issue_certificate(
            name, fresh_services(stack, files=FailingS3(stack.env["ACMEVAULT_BUCKET"])), 60 + time.monotonic()
        )
    # GIVEN a name removed from the spec while the downloaded certificate waited
    assert cli("cert", "put", name, "-d", kept, "--directory", directory).code == 0
    # WHEN the worker runs
    assert run(stack, "IssueFunction", scheduled(name)) == {"batchItemFailures": []}
    # THEN the downloaded one (it covers the spec) was served first, and then the exact one ordered and served
    s3 = stack.aws("s3")
    versions = s3.list_object_versions(Bucket=stack.env["ACMEVAULT_BUCKET"], Prefix=f"certificates/{name}/cert.pem")
    assert len(versions["Versions"]) == 2
    assert served_names(stack, name) == {kept}
    assert sorted(len(ids) for status_, ids in orders(stack, directory).values() if status_ == "valid") == [1, 2]


def test_cert_reset_and_the_api_discard_an_order_in_flight_on_purpose(stack, cli, directory, unique, state):
    name = f"reset-{unique}"
    assert (
        cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory, "--challenge", "dns-01").code
        == 0
    )
    with pytest.raises(DnsError):
        issue_certificate(name, fresh_services(stack, dns=FailingRoute53()), time.monotonic() + 60)
    order_url = status(cli, name)["pending_order"]["order_url"]
    # WHEN the API resets it
    reply = call(stack, event("api-post-certificate-reset.json", name=name))
    # THEN the order is discarded, named in the answer; nothing else changed
    assert reply.status == 200, reply.text
    assert reply.body["discarded"] is True and reply.body["order_url"] == order_url
    assert reply.body["certificate"]["pending_order"] is None and status(cli, name)["pending_order"] is None
    # AND a second reset (CLI) has nothing to discard and changes nothing
    before = state()
    result = cli("cert", "reset", name)
    assert result.code == 0 and "nothing to discard" in result.out
    assert state()["items"] == before["items"]
    # AND the next attempt orders anew and issues
    assert run(stack, "IssueFunction", scheduled(name)) == {"batchItemFailures": []}
    assert status(cli, name)["status"] == "issued"
    assert "pending order discarded" in history(stack, name)


# -- regions ----------------------------------------------------------------------------------------


def test_a_region_dropped_from_the_spec_is_reported_left_alone_and_deleted_only_on_request(
    stack, cli, directory, unique
):
    name = f"drop-{unique}"
    both = ("--acm-region", "us-east-1", "--acm-region", "eu-west-1")
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory, *both).code == 0
    assert cli("cert", "issue", name).code == 0
    arn = status(cli, name)["regions"]["eu-west-1"]["arn"]
    events_of(stack, "Certificate Region Dropped", name)  # drain what came before
    # WHEN eu-west-1 is removed from the spec
    only = ("--acm-region", "us-east-1")
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory, *only).code == 0
    # THEN an event says so, `cert show` reports it, and its ACM certificate is left in place
    dropped = events_of(stack, "Certificate Region Dropped", name)
    assert [(e["detail"]["region"], e["detail"]["arn"]) for e in dropped] == [("eu-west-1", arn)]
    shown = status(cli, name)
    assert shown["dropped_regions"] == ["eu-west-1"] and shown["regions"]["eu-west-1"]["arn"] == arn
    assert "region eu-west-1 is no longer in the spec" in cli("cert", "show", name).out
    stack.aws("acm", "eu-west-1").describe_certificate(CertificateArn=arn)
    # AND a renewal leaves it alone
    assert cli("cert", "issue", name).code == 0
    renewed = status(cli, name)
    assert renewed["regions"]["eu-west-1"]["serial"] == shown["serial"] != renewed["serial"]
    # WHEN it is forgotten with --delete (a region still in the spec is refused, and nothing changes)
    refused = cli("cert", "forget-region", name, "us-east-1", "--delete")
    assert refused.code == 1 and "still in its spec" in refused.err
    assert cli("cert", "forget-region", name, "eu-west-1", "--delete").code == 0
    # THEN the record no longer tracks it and ACM no longer has it
    assert "eu-west-1" not in status(cli, name)["regions"]
    acm = stack.aws("acm", "eu-west-1")
    with pytest.raises(acm.exceptions.ResourceNotFoundException):
        acm.describe_certificate(CertificateArn=arn)


# -- at-least-once delivery and leases --------------------------------------------------------------


def test_the_same_on_demand_message_delivered_three_times_issues_once(stack, cli, directory, unique):
    name = f"thrice-{unique}"
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory).code == 0
    assert cli("cert", "issue", name).code == 0
    serial = status(cli, name)["serial"]
    before = len(orders(stack, directory))
    message = {"certificate": name, "reason": "on-demand", "requested_serial": serial}
    # WHEN SQS delivers the renew message three times: twice in one batch, once more later
    assert run(stack, "IssueFunction", sqs_event(message, message)) == {"batchItemFailures": []}
    assert run(stack, "IssueFunction", sqs_event(message)) == {"batchItemFailures": []}
    # THEN exactly one new certificate was issued
    assert len(orders(stack, directory)) == before + 1
    assert status(cli, name)["serial"] != serial


def test_an_on_demand_message_meeting_another_workers_lease_goes_back_to_the_queue(stack, cli, directory, unique):
    name = f"held-{unique}"
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory).code == 0
    services = fresh_services(stack)
    now = datetime.now(UTC)
    # GIVEN a worker that died holding the certificate's lease
    services.certificates.acquire_lease(name, "dead-worker", now, 900)
    on_demand = {"certificate": name, "reason": "on-demand", "requested_serial": None}
    # WHEN an on-demand message and a scheduled one arrive in one batch
    result = run(stack, "IssueFunction", sqs_event(on_demand, {"certificate": name, "reason": "renewal"}))
    # THEN the on-demand one goes back to the queue (redelivered after the visibility timeout); the
    # scheduled one is done with ("busy": the next sweep finds it due again)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    # AND people are told until when it is locked
    shown = cli("cert", "show", name)
    assert "locked by another worker until" in shown.out
    refused = cli("cert", "issue", name)
    assert refused.code == 1 and "until" in refused.err and "when its lease expires" in refused.err
    # WHEN the lease runs out and the message comes back: it is issued
    services.certificates.release_lease(name, "dead-worker")
    assert run(stack, "IssueFunction", sqs_event(on_demand)) == {"batchItemFailures": []}
    assert status(cli, name)["status"] == "issued"


def test_a_worker_whose_lease_was_taken_over_writes_nothing_over_the_new_holder(stack, cli, directory, unique):
    from acmevault.domain.errors import LeaseLost

    name = f"fence-{unique}"
    assert (
        cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory, "--challenge", "dns-01").code
        == 0
    )
    services = fresh_services(stack)
    taker = str(uuid.uuid4())

    class SlowRoute53:
        """Route 53 so slow that the worker's lease runs out, and another worker takes the certificate over."""

        def __init__(self, real: Any) -> None:
            self.real = real

        def zone_for(self, *args: Any) -> str:
            return str(self.real.zone_for(*args))

        def publish(self, records: Any, deadline: float, role_arn: str | None = None) -> None:
            services.certificates.acquire_lease(name, taker, datetime.now(UTC), 900)
            self.real.publish(records, deadline, role_arn)

        def remove(self, records: Any, role_arn: str | None = None) -> None:
            self.real.remove(records, role_arn)

    # GIVEN a worker whose clock puts its lease 20 minutes in the past (it has run out by the time it publishes)
    slow = fresh_services(stack, dns=SlowRoute53(services.dns), clock=lambda: datetime.now(UTC) - timedelta(minutes=20))
    with pytest.raises(LeaseLost):
        issue_certificate(name, slow, time.monotonic() + 60)
    # THEN it wrote nothing after the takeover: no downloaded certificate, no failure, no serial
    after = services.certificates.get(name).state
    assert after.serial is None and after.last_error is None and after.consecutive_failures == 0
    assert after.pending is not None and after.pending.fullchain is None
    services.certificates.release_lease(name, taker)


def test_a_cli_timeout_longer_than_the_lease_is_refused(cli, directory, unique):
    name = f"long-{unique}"
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory).code == 0
    for argv in (("cert", "issue", name, "--timeout", "901"), ("renew", "--due", "--timeout", "3600")):
        result = cli(*argv)
        assert result.code == 2 and len(result.err.strip().splitlines()) == 1
        assert "--timeout" in result.err and "lease" in result.err
    assert status(cli, name)["status"] == "pending"


def test_an_order_recorded_before_orders_kept_their_names_is_checked_at_the_ca_and_dropped(
    stack, cli, directory, unique
):
    name, first, added = f"legacy-{unique}", f"a.{unique}.example.com", f"b.{unique}.example.com"
    spec = ("--directory", directory, "--challenge", "dns-01")
    assert cli("cert", "put", name, "-d", first, *spec).code == 0
    with pytest.raises(DnsError):
        issue_certificate(name, fresh_services(stack, dns=FailingRoute53()), time.monotonic() + 60)
    # GIVEN the order in flight as an earlier version recorded it: without what it was placed for
    stack.aws("dynamodb").update_item(
        TableName=stack.env["ACMEVAULT_TABLE"],
        Key={"pk": {"S": "CERT"}, "sk": {"S": name}},
        UpdateExpression="REMOVE pending_domains, pending_key_type, pending_directory",
    )
    assert status(cli, name)["pending_order"]["domains"] is None
    # AND a name added to the spec since
    assert cli("cert", "put", name, "-d", first, "-d", added, *spec).code == 0
    # WHEN the worker runs: THEN the CA's order (for the old names) is seen not to match, dropped, and ordered anew
    assert run(stack, "IssueFunction", scheduled(name)) == {"batchItemFailures": []}
    assert served_names(stack, name) == {first, added}
    assert "pending order dropped" in history(stack, name)


def test_a_downloaded_certificate_that_expired_before_it_was_pushed_is_dropped_not_served(
    stack, cli, directory, unique
):
    from acmevault.app.issuance import renew_if_due

    name = f"stale-{unique}"
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory).code == 0
    bucket = stack.env["ACMEVAULT_BUCKET"]
    with pytest.raises(AwsUnavailable):
        issue_certificate(name, fresh_services(stack, files=FailingS3(bucket)), time.monotonic() + 60)
    downloaded = fresh_services(stack).certificates.get(name).state.pending
    assert downloaded is not None and downloaded.fullchain is not None
    # WHEN the next attempt comes after the downloaded certificate's end (ACM would refuse to import it)
    later = fresh_services(stack, clock=lambda: datetime.now(UTC) + timedelta(days=400))
    issued = renew_if_due(name, later, time.monotonic() + 60)
    # THEN it is dropped and a new one is ordered and served
    assert issued is not None and issued.state.certificate_pem not in downloaded.fullchain
    assert "pending order dropped" in history(stack, name)
