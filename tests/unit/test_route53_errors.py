"""What the Route 53 adapter says when AWS refuses: the name, the zone and the role, and AWS's reason.

moto does not check Route 53 permissions, so AWS's answers are given here with botocore's Stubber,
on a real botocore client, without a network (an STS refusal is checked against moto with IAM
enforced: tests/integration/test_dns01.py).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from acmevault.adapters.aws.dns import Route53Dns
from acmevault.domain.dns import TxtRecord
from acmevault.domain.errors import AwsUnavailable, DnsError
from botocore.stub import Stubber

ROLE = "arn:aws:iam::210987654321:role/acmevault-dns01"
DENIED = (
    "User: arn:aws:sts::210987654321:assumed-role/acmevault-dns01/acmevault is not authorized to perform: "
    "route53:ChangeResourceRecordSets on resource: arn:aws:route53:::hostedzone/Z0PARTNER"
)


class StubbedDns(Route53Dns):
    """The adapter with a stubbed client in place of the one it would build (or assume a role for)."""

    def __init__(self) -> None:
        super().__init__()
        self.r53 = boto3.client("route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        self.stub = Stubber(self.r53)
        self.stub.activate()
        self.roles: list[str | None] = []

    def _r53(self, role_arn: str | None) -> Any:
        self.roles.append(role_arn)
        return self.r53


def zones(*names: str) -> dict[str, Any]:
    return {
        "HostedZones": [
            {"Id": f"/hostedzone/Z{i}", "Name": n, "CallerReference": n, "Config": {"PrivateZone": False}}
            for i, n in enumerate(names)
        ],
        "IsTruncated": False,
        "MaxItems": "100",
        "Marker": "",
    }


def test_access_denied_to_a_zone_names_the_record_the_zone_and_the_role():
    dns = StubbedDns()
    dns.stub.add_client_error("change_resource_record_sets", "AccessDenied", DENIED, http_status_code=403)
    with pytest.raises(DnsError) as denied:
        dns.publish([TxtRecord("Z0PARTNER", "_acme-challenge.www.example.net", "v")], deadline=1e12, role_arn=ROLE)
    assert denied.value.message == (
        f"_acme-challenge.www.example.net: Route 53 hosted zone Z0PARTNER as role {ROLE}: "
        f"access denied (AccessDenied): {DENIED}"
    )
    assert dns.roles == [ROLE]


def test_access_denied_listing_zones_names_the_role():
    dns = StubbedDns()
    dns.stub.add_client_error("list_hosted_zones", "AccessDenied", "not authorized", http_status_code=403)
    with pytest.raises(DnsError, match=f"^listing Route 53 hosted zones as role {ROLE}: access denied"):
        dns.zone_for("www.example.net", None, ROLE)


def test_a_name_without_a_zone_is_named_and_with_a_role_so_is_its_account():
    dns = StubbedDns()
    dns.stub.add_response("list_hosted_zones", zones("example.com."))
    with pytest.raises(DnsError) as missing:
        dns.zone_for("*.www.example.net", None, ROLE)
    assert missing.value.message == (
        f"*.www.example.net: no Route 53 hosted zone found for this name in the account of role {ROLE} "
        "(set hosted_zone_id)"
    )


def test_the_longest_matching_zone_wins_and_a_zone_created_since_is_found():
    dns = StubbedDns()
    dns.stub.add_response("list_hosted_zones", zones("example.com.", "sub.example.com."))
    assert dns.zone_for("a.sub.example.com") == "Z1"
    assert dns.zone_for("*.example.com") == "Z0"
    # a name with no zone in the list read earlier: the list is read again before giving up
    dns.stub.add_response("list_hosted_zones", zones("example.com.", "example.org."))
    assert dns.zone_for("www.example.org") == "Z1"
    dns.stub.assert_no_pending_responses()


def test_throttling_is_transient():
    dns = StubbedDns()
    dns.stub.add_client_error("list_hosted_zones", "Throttling", "Rate exceeded", http_status_code=400)
    with pytest.raises(AwsUnavailable):
        dns.zone_for("www.example.com")
