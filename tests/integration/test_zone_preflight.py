"""The zone preflight with `challenge: auto`: a name with no Route 53 zone costs at most one order (the CA
alone can say whether it is pre-validated), and a name the CA holds valid needs no zone at all."""

from __future__ import annotations

import pytest
from acmevault.adapters.aws.wire import transport
from acmevault.adapters.aws.wire.endpoints import Endpoint
from acmevault.composition.config import Settings
from acmevault.composition.services import build
from acmevault.domain.certificate import Status


def orders_at_pebble(stack, directory: str) -> int:
    return len(build(Settings.from_env(stack.env)).accounts.session(directory).order_urls())


def test_auto_with_a_name_in_no_zone_orders_once_however_often_it_is_tried(stack, cli, directory, unique):
    name, domain = f"auto-{unique}", f"www.{unique}.nozone.test"
    assert cli("cert", "put", name, "-d", domain, "--directory", directory).code == 0
    for _attempt in range(3):
        result = cli("cert", "issue", name)
        assert result.code == 1
        [line] = result.err.splitlines()
        assert f"{domain}: no Route 53 hosted zone found for this name" in line
    assert orders_at_pebble(stack, directory) == 1
    record = build(Settings.from_env(stack.env)).certificates.get(name)
    assert record.state.status is Status.FAILED and record.state.pending is not None  # resumed, not re-ordered


def test_auto_with_a_name_the_ca_holds_valid_needs_no_zone(stack, cli, directory, unique):
    domain = f"ov.{unique}.prevalidated.test"
    # GIVEN the CA holds the name valid for this account (as an OV/EV name validated at the CA): proved
    # once through a zone that is then deleted
    r53 = stack.aws("route53")
    zone = r53.create_hosted_zone(Name=f"{unique}.prevalidated.test", CallerReference=unique)["HostedZone"]["Id"]
    assert cli("cert", "put", f"seed-{unique}", "-d", domain, "--directory", directory).code == 0
    assert cli("cert", "issue", f"seed-{unique}").code == 0
    r53.delete_hosted_zone(Id=zone)
    # WHEN a certificate for it with challenge auto and no zone is issued
    assert cli("cert", "put", f"ov-{unique}", "-d", domain, "--directory", directory).code == 0
    result = cli("cert", "issue", f"ov-{unique}")
    # THEN it is issued with one order and no challenge
    assert result.code == 0, result.err
    assert orders_at_pebble(stack, directory) == 2


# Route 53's answer to a request it cannot take (its own REST-XML error document): not "no zone", not throttling, not
# "access denied", so nothing can say whether the name needs a challenge.
INVALID_INPUT = (
    b'<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type>'
    b"<Code>InvalidInput</Code><Message>refused by the test</Message></Error><RequestId>1</RequestId>"
    b"</ErrorResponse>"
)


@pytest.fixture
def route53_refuses_listing_zones(stack):
    """Route 53 answers ListHostedZones with an error, through the transport's hook on acmevault's clients;
    the sends it answered are counted (an error that is not retried: one)."""
    answered: list[str] = []

    def answer(endpoint: Endpoint, request: transport.Request, attempt: int) -> transport.Response | None:
        if endpoint.service != "route53" or request.operation != "ListHostedZones":
            return None
        answered.append(request.operation)
        return transport.Response(400, {"content-type": "text/xml"}, INVALID_INPUT)

    transport.HOOKS.append(answer)
    try:
        yield answered
    finally:
        transport.HOOKS.remove(answer)


def test_auto_orders_nothing_while_route53_cannot_be_asked(
    stack, cli, directory, unique, route53_refuses_listing_zones
):
    name = f"r53-{unique}"
    assert cli("cert", "put", name, "-d", f"www.{unique}.nozone.test", "--directory", directory).code == 0
    result = cli("cert", "issue", name)
    assert result.code == 1
    [line] = result.err.splitlines()
    assert "listing Route 53 hosted zones: InvalidInput: refused by the test" in line
    assert orders_at_pebble(stack, directory) == 0
    assert route53_refuses_listing_zones == ["ListHostedZones"]  # asked once: InvalidInput is not retried
