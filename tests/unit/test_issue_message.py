"""Issue messages carry the serial they were asked for; pending orders and regions say what they are for."""

from __future__ import annotations

import json

import pytest
from acmevault.domain.certificate import (
    CertificateSpec,
    CertificateState,
    KeyType,
    PendingOrder,
    RegionState,
    RegionStatus,
)
from acmevault.domain.errors import ValidationError
from acmevault.domain.issue_message import parse_message


def test_an_on_demand_message_carries_the_serial_it_was_asked_for():
    message = parse_message(json.dumps({"certificate": "web", "reason": "on-demand", "requested_serial": "1a2b"}))
    assert (message.requested_serial, message.knows_serial, message.scheduled) == ("1a2b", True, False)
    never = parse_message(json.dumps({"certificate": "web", "reason": "on-demand", "requested_serial": None}))
    assert (never.requested_serial, never.knows_serial) == (None, True)
    earlier = parse_message(json.dumps({"certificate": "web", "reason": "on-demand"}))
    assert earlier.knows_serial is False  # a message queued before the field existed: issued as before


@pytest.mark.parametrize("serial", ["XYZ", "1a2b\n", 12, "", "a" * 65])
def test_a_requested_serial_that_is_not_hexadecimal_is_refused(serial):
    with pytest.raises(ValidationError) as refused:
        parse_message(json.dumps({"certificate": "web", "reason": "on-demand", "requested_serial": serial}))
    assert refused.value.field == "requested_serial"


def test_a_pending_order_knows_which_spec_it_was_placed_for():
    spec = CertificateSpec.parse("web", {"domains": ["a.example.com", "b.example.com"], "directory": "d"})

    def order(domains: tuple[str, ...] | None, key_type: KeyType | None, directory: str | None) -> PendingOrder:
        return PendingOrder("u", "acct", b"k", domains=domains, key_type=key_type, directory=directory)

    assert order(("b.example.com", "a.example.com"), KeyType.EC_P256, "d").placed_for(spec)
    assert not order(("a.example.com",), KeyType.EC_P256, "d").placed_for(spec)
    assert not order(spec.domains, KeyType.RSA_2048, "d").placed_for(spec)
    assert not order(spec.domains, KeyType.EC_P256, "other").placed_for(spec)
    assert order(None, None, None).placed_for(spec)  # recorded before: the CA's order is compared instead


def test_regions_lag_when_they_do_not_hold_the_records_serial():
    state = CertificateState(
        serial="2",
        regions={
            "us-east-1": RegionState("arn:1", "2"),
            "eu-west-1": RegionState("arn:2", "1", RegionStatus.FAILED, "aws_unavailable: throttled"),
        },
    )
    assert state.lagging(("us-east-1", "eu-west-1", "ap-south-1")) == ["eu-west-1", "ap-south-1"]
    assert state.acm_arns == {"us-east-1": "arn:1", "eu-west-1": "arn:2"}
