"""The DynamoDB calls of an issuance, counted on the wire against moto (``transport.HOOKS``), and the answers of
the writes that stand in for reads (issue 14): the lease's conditional write answers the certificate as the
lease was taken, a state write the item as it left it, and the directory's state and policy are one read.
A read removed for speed that comes back fails here; so does a write's answer that differs from a read."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from acmevault.adapters.aws.directory_table import DynamoDirectoryRecords
from acmevault.adapters.aws.table import CertificateTable
from acmevault.adapters.aws.wire import transport
from acmevault.adapters.aws.wire.endpoints import Endpoint
from acmevault.app.issuance import issue_certificate, renew_if_due
from acmevault.composition.config import Settings
from acmevault.composition.services import build
from acmevault.domain.certificate import CertificateSpec, CertificateState, Status
from acmevault.domain.directory import DirectoryState, DirectoryStatus
from acmevault.domain.policy import DirectoryPolicy

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@contextmanager
def dynamodb_calls() -> Iterator[list[tuple[str, str]]]:
    """Each DynamoDB call acmevault's client sends (first attempts): (operation, the partition of its key)."""
    calls: list[tuple[str, str]] = []

    def record(endpoint: Endpoint, request: transport.Request, attempt: int) -> None:
        if endpoint.service == "dynamodb" and attempt == 1:
            key = json.loads(request.body).get("Key", {})
            calls.append((request.operation, key.get("pk", {}).get("S", "")))

    transport.HOOKS.append(record)
    try:
        yield calls
    finally:
        transport.HOOKS.remove(record)


def test_an_issuance_reads_no_certificate_item_and_its_directory_item_once(stack, cli, directory, unique):
    # GIVEN a certificate, and a warm container (its directory's credential and session in hand)
    services = build(Settings.from_env(stack.env))
    warm, name = f"warm-{unique}", f"calls-{unique}"
    for each in (warm, name):
        assert cli("cert", "put", each, "-d", f"{each}.example.com", "--directory", directory).code == 0
    issue_certificate(warm, services, time.monotonic() + 120)
    # WHEN it is issued, then renewed once due
    with dynamodb_calls() as issuing:
        issued = issue_certificate(name, services, time.monotonic() + 120)
    services.certificates.mark_due(name, datetime.now(UTC))
    with dynamodb_calls() as renewing:
        renewed = renew_if_due(name, services, time.monotonic() + 120)
    # THEN each read its directory's item once (state and policy together) and no certificate item: the lease's
    # write answered the certificate, the issued state's write the spec as it was then
    assert renewed is not None and renewed.state.serial != issued.state.serial
    for calls in (issuing, renewing):
        assert [c for c in calls if c[0] in ("GetItem", "Query", "Scan")] == [("GetItem", "DIR")], calls
        assert calls[0] == calls[-1] == ("UpdateItem", "CERT"), calls  # the lease taken, and let go


def test_the_lease_and_a_state_write_answer_the_item_as_a_read_after_them_finds_it(stack, unique):
    config = Settings.from_env(stack.env)
    table = CertificateTable(config.table_name, config.region)
    name = f"answers-{unique}"
    spec = CertificateSpec.parse(name, {"domains": [f"{name}.example.com"], "directory": "d"})
    table.put_spec(spec, NOW)
    # the lease's answer: the certificate with the lease just taken
    held = table.acquire_lease(name, "worker-1", NOW, 60)
    assert held == table.get(name) and held.state.lease_until == NOW + timedelta(seconds=60)
    # a state write's answer: the state as written and the spec as it is at the write, here one changed since
    # the worker read it
    wider = CertificateSpec.parse(
        name, {"domains": [f"{name}.example.com", f"www.{name}.example.com"], "directory": "d"}
    )
    table.put_spec(wider, NOW)
    state = CertificateState(status=Status.ISSUED, serial="0a1b", renew_at=NOW + timedelta(days=60), updated_at=NOW)
    assert table.save_state(name, state, "worker-1") is None  # no answer unless asked: an answer costs
    stored = table.save_state_and_get(name, state, "worker-1")
    assert stored == table.get(name)
    assert stored.spec == wider and replace(stored.state, lease_until=None) == state


def test_a_directorys_state_and_policy_read_together_are_what_each_read_alone_finds(stack, unique):
    config = Settings.from_env(stack.env)
    records = DynamoDirectoryRecords(config.table_name, config.region)
    name = f"standing-{unique}"
    assert records.state_and_policy(name) == (DirectoryState(), None)  # nothing recorded
    records.set_policy(
        name,
        DirectoryPolicy(allowed_domains=("example.com",), allowed_principals=("arn:aws:iam::123456789012:role/a",)),
    )
    state = DirectoryState(DirectoryStatus.LOST, NOW, "alice", "leaked", "v2", "1001")
    records.set_state(name, state)
    assert records.state_and_policy(name) == (records.state(name), records.policy(name))
    assert records.state_and_policy(name) == (
        state,
        DirectoryPolicy(("example.com",), ("arn:aws:iam::123456789012:role/a",)),
    )
