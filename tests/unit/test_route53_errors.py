"""What the Route 53 adapter says when AWS refuses: the name, the zone and the role, and AWS's reason.

moto does not check Route 53 permissions, so AWS's answers are given here through the transport's
hooks (``transport.HOOKS``), as the documents Route 53 sends (its REST-XML error document, its
ListHostedZones answer), to acmevault's own Route 53 client, without a network: the client parses
them and its retries run as they would against AWS (an STS refusal is checked against moto with IAM
enforced: tests/integration/test_dns01.py). Each document is also parsed by botocore, the reference,
to the same error code and message or the same zones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
import pytest
from acmevault.adapters.aws.dns import Route53Dns
from acmevault.adapters.aws.wire import transport
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.endpoints import Endpoint
from acmevault.adapters.aws.wire.route53 import Route53Client
from acmevault.domain.dns import TxtRecord
from acmevault.domain.errors import AwsUnavailable, DnsError
from botocore.parsers import create_parser

ROLE = "arn:aws:iam::210987654321:role/acmevault-dns01"
DENIED = (
    "User: arn:aws:sts::210987654321:assumed-role/acmevault-dns01/acmevault is not authorized to perform: "
    "route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/Z0PARTNER"
)
NAMESPACE = "https://route53.amazonaws.com/doc/2013-04-01/"


def error(code: str, message: str, status: int) -> transport.Response:
    """Route 53's error document, as it sends it."""
    body = (
        f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>0d6c5a8e-1f3b-4c1e-9f7a-2b3c4d5e6f70</RequestId></ErrorResponse>"
    )
    return transport.Response(
        status,
        {"content-type": "text/xml", "x-amzn-requestid": "0d6c5a8e-1f3b-4c1e-9f7a-2b3c4d5e6f70"},
        body.encode(),
    )


def zones(*names: str) -> transport.Response:
    """Route 53's answer to ListHostedZones: public zones Z0, Z1, ... named ``names``, in one page."""
    listed = "".join(
        f"<HostedZone><Id>/hostedzone/Z{i}</Id><Name>{n}</Name><CallerReference>{n}</CallerReference>"
        f"<Config><PrivateZone>false</PrivateZone></Config><ResourceRecordSetCount>2</ResourceRecordSetCount>"
        f"</HostedZone>"
        for i, n in enumerate(names)
    )
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListHostedZonesResponse xmlns="{NAMESPACE}">'
        f"<HostedZones>{listed}</HostedZones><Marker></Marker><IsTruncated>false</IsTruncated>"
        f"<MaxItems>100</MaxItems></ListHostedZonesResponse>"
    )
    return transport.Response(200, {"content-type": "text/xml"}, body.encode())


def botocore_reads(operation: str, answer: transport.Response) -> dict[str, Any]:
    """What botocore makes of ``answer`` to ``operation`` (the reference parser, Route 53's own model)."""
    model = botocore.session.get_session().get_service_model("route53").operation_model(operation)
    parsed: dict[str, Any] = create_parser("rest-xml").parse(
        {"status_code": answer.status, "headers": dict(answer.headers), "body": answer.body}, model.output_shape
    )
    return parsed


class Route53Answers:
    """Route 53 as the hooks answer it: each expected operation's answer, in order, for every send; a send
    nothing was queued for fails the test (as botocore's Stubber did)."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, transport.Response]] = []
        self.sends: list[str] = []

    def add(self, operation: str, answer: transport.Response, times: int = 1) -> None:
        self.queued += [(operation, answer)] * times

    def hook(self, endpoint: Endpoint, request: transport.Request, attempt: int) -> transport.Response | BaseException:
        self.sends.append(request.operation)
        if endpoint.service != "route53":
            return AssertionError(f"a request to {endpoint.service}: {request.operation}")
        if not self.queued:
            return AssertionError(f"an unexpected request: {request.operation}")
        operation, answer = self.queued.pop(0)
        if operation != request.operation:
            return AssertionError(f"expected {operation}, sent {request.operation}")
        return answer


@pytest.fixture
def route53(monkeypatch: pytest.MonkeyPatch) -> Iterator[Route53Answers]:
    answers = Route53Answers()
    monkeypatch.setattr(transport, "HOOKS", [answers.hook])
    monkeypatch.setattr(transport, "_quotas", {})  # this test's retries spend no one else's quota
    monkeypatch.setattr(transport, "_backoff", lambda seconds: None)  # the retries run, without their waits
    yield answers
    assert answers.queued == [], "answers queued and never asked for"


class HookedDns(Route53Dns):
    """The adapter with acmevault's Route 53 client (fixed credentials) in place of the one it would build
    (or assume a role for); the roles it was asked to act as are recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.r53 = Route53Client("us-east-1", Credentials("AKIDEXAMPLE", "secret"))
        self.roles: list[str | None] = []

    def _r53(self, role_arn: str | None) -> Any:
        self.roles.append(role_arn)
        return self.r53


def test_the_answers_given_are_what_botocore_reads_too():
    assert botocore_reads("ChangeResourceRecordSets", error("AccessDenied", DENIED, 403))["Error"] == {
        "Type": "Sender",
        "Code": "AccessDenied",
        "Message": DENIED,
    }
    assert botocore_reads("ListHostedZones", error("Throttling", "Rate exceeded", 400))["Error"]["Code"] == "Throttling"
    listed = botocore_reads("ListHostedZones", zones("example.com.", "sub.example.com."))
    assert [(z["Id"], z["Name"], z["Config"]["PrivateZone"]) for z in listed["HostedZones"]] == [
        ("/hostedzone/Z0", "example.com.", False),
        ("/hostedzone/Z1", "sub.example.com.", False),
    ]
    assert listed["IsTruncated"] is False


def test_access_denied_to_a_zone_names_the_record_the_zone_and_the_role(route53):
    dns = HookedDns()
    route53.add("ChangeResourceRecordSets", error("AccessDenied", DENIED, 403))
    with pytest.raises(DnsError) as denied:
        dns.publish([TxtRecord("Z0PARTNER", "_acme-challenge.www.example.net", "v")], deadline=1e12, role_arn=ROLE)
    assert denied.value.message == (
        f"_acme-challenge.www.example.net: Route 53 hosted zone Z0PARTNER as role {ROLE}: "
        f"access denied (AccessDenied): {DENIED}"
    )
    assert dns.roles == [ROLE]
    assert route53.sends == ["ChangeResourceRecordSets"]  # a refusal is not retried


def test_access_denied_listing_zones_names_the_role(route53):
    dns = HookedDns()
    route53.add("ListHostedZones", error("AccessDenied", "not authorized", 403))
    with pytest.raises(DnsError, match=f"^listing Route 53 hosted zones as role {ROLE}: access denied"):
        dns.zone_for("www.example.net", None, ROLE)
    assert route53.sends == ["ListHostedZones"]


def test_a_name_without_a_zone_is_named_and_with_a_role_so_is_its_account(route53):
    dns = HookedDns()
    route53.add("ListHostedZones", zones("example.com."))
    with pytest.raises(DnsError) as missing:
        dns.zone_for("*.www.example.net", None, ROLE)
    assert missing.value.message == (
        f"*.www.example.net: no Route 53 hosted zone found for this name in the account of role {ROLE} "
        "(set hosted_zone_id)"
    )


def test_the_longest_matching_zone_wins_and_a_zone_created_since_is_found(route53):
    dns = HookedDns()
    route53.add("ListHostedZones", zones("example.com.", "sub.example.com."))
    assert dns.zone_for("a.sub.example.com") == "Z1"
    assert dns.zone_for("*.example.com") == "Z0"
    assert route53.sends == ["ListHostedZones"]  # read once for both
    # a name with no zone in the list read earlier: the list is read again before giving up
    route53.add("ListHostedZones", zones("example.com.", "example.org."))
    assert dns.zone_for("www.example.org") == "Z1"
    assert route53.sends == ["ListHostedZones"] * 2


def test_throttling_is_retried_and_then_transient(route53):
    # GIVEN Route 53 throttling every one of the client's sends (the first and its 5 retries)
    dns = HookedDns()
    route53.add("ListHostedZones", error("Throttling", "Rate exceeded", 400), times=6)
    # THEN the adapter says AWS is unavailable (retry later), after all six
    with pytest.raises(AwsUnavailable):
        dns.zone_for("www.example.com")
    assert route53.sends == ["ListHostedZones"] * 6


def test_throttling_that_stops_is_not_seen_by_the_adapter(route53):
    dns = HookedDns()
    route53.add("ListHostedZones", error("Throttling", "Rate exceeded", 400), times=2)
    route53.add("ListHostedZones", zones("example.com."))
    assert dns.zone_for("www.example.com") == "Z0"
    assert route53.sends == ["ListHostedZones"] * 3
