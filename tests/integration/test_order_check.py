"""The CA's order is checked against the spec before any DNS record is written (issue 10).

A fault proxy in front of the real Pebble answers one newOrder with the previous newOrder's answer:
an order, with its authorizations, for another certificate's names.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from acmevault.adapters.aws.dns import Route53Dns
from acmevault.app.issuance import issue_certificate
from acmevault.composition.config import Settings
from acmevault.composition.services import build
from acmevault.domain.errors import OrderMismatch

from tests.reliability.fault_proxy import FaultProxy


class CountingRoute53(Route53Dns):
    """The real Route 53 adapter; counts the challenge records it is asked to write."""

    published = 0

    def publish(self, records: Any, deadline: float, role_arn: str | None = None) -> None:
        CountingRoute53.published += len(list(records))
        super().publish(records, deadline, role_arn)


@pytest.fixture
def proxy(stack: Any) -> Any:
    proxy = FaultProxy(stack.local, seed=1).start()  # no fault is drawn: it only forwards until armed
    try:
        yield proxy
    finally:
        proxy.stop()


def test_an_order_for_other_names_is_refused_before_any_dns_record_is_written(stack, cli, unique, proxy, state):
    directory = f"check-{unique}"
    put = cli("directory", "put", directory, "--url", proxy.directory_url, "--eab-kid", "kid-1", stdin=stack.hmac())
    assert put.code == 0, put.err
    other, name = f"other-{unique}", f"mine-{unique}"
    assert cli("cert", "put", other, "-d", f"other.{unique}.example.com", "--directory", directory).code == 0
    assert cli("cert", "issue", other).code == 0
    spec = ("-d", f"mine.{unique}.example.com", "--directory", directory, "--challenge", "dns-01")
    assert cli("cert", "put", name, *spec).code == 0
    services = replace(build(Settings.from_env(stack.env)), dns=CountingRoute53())
    before = state()
    # WHEN the CA answers this certificate's newOrder with the other certificate's order
    proxy.replay_next_order = True
    with pytest.raises(OrderMismatch, match=f"other.{unique}.example.com"):
        issue_certificate(name, services, time.monotonic() + 60)
    # THEN nothing was proved or served: no DNS record written, ACM and S3 as they were, no order kept
    assert proxy.injected["order_replayed"] == 1
    assert CountingRoute53.published == 0
    after = state()
    assert after["acm"] == before["acm"] and after["s3"] == before["s3"]
    record = services.certificates.get(name).state
    assert record.pending is None and record.serial is None and "order_mismatch" in (record.last_error or "")
    # AND the next attempt (the CA answering rightly) orders anew and issues
    issued = issue_certificate(name, services, time.monotonic() + 60)
    assert issued.state.serial is not None and CountingRoute53.published == 1
