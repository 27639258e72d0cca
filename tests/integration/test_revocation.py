"""Revocation (the use case and `acmevault cert revoke`) against Pebble + moto: at the CA, then every copy marked."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from acmevault.app.revocation import RevocationReason, revoke_certificate
from acmevault.domain.errors import AwsUnavailable, ConflictError, LeaseHeld


def pebble_status(stack: Any, serial: str) -> dict[str, Any]:
    url = f"{stack.local.management_url}/cert-status-by-serial/{serial}"
    response = requests.get(url, verify=str(stack.local.ca_bundle), timeout=5)
    response.raise_for_status()
    return dict(response.json())


def show(cli: Any, name: str) -> dict[str, Any]:
    shown = cli("cert", "show", name, "--json")
    assert shown.code == 0, shown.err
    return dict(json.loads(shown.out))


def issue(cli: Any, name: str, directory: str) -> dict[str, Any]:
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    result = cli("cert", "issue", name)
    assert result.code == 0, result.err
    return show(cli, name)


def history(name: str) -> tuple[dict[str, Any], ...]:
    from acmevault.composition.services import services

    # What the use cases wrote; who was allowed (authorization entries) is tests/e2e/test_authorization.py's.
    return tuple(h for h in services().certificates.history(name) if h["action"] != "authorization")


def test_cli_revoke_revokes_at_the_ca_and_marks_the_record(stack, cli, directory, unique):
    name = f"crev-{unique}"
    cert = issue(cli, name, directory)
    result = cli("cert", "revoke", name, "--reason", "affiliationChanged")
    assert result.code == 0, result.err
    assert f"serial {cert['serial']} revoked at the CA (affiliationChanged, RFC 5280 code 3)" in result.out
    assert pebble_status(stack, cert["serial"])["Reason"] == 3
    assert show(cli, name)["status"] == "revoked"


@pytest.mark.parametrize("reason", ["", "KeyCompromise", "privilegeWithdrawn", "7"])
def test_cli_revoke_refuses_a_reason_it_does_not_know(stack, cli, directory, unique, state, reason):
    name = f"cbad-{unique}"
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    before = state()
    result = cli("cert", "revoke", name, "--reason", reason)
    assert result.code == 2
    assert result.err.startswith(f"acmevault: cert revoke {name}: --reason: ") and "not one of" in result.err
    assert state() == before


def test_cli_revoke_of_a_certificate_never_issued_says_so(stack, cli, directory, unique, state):
    name = f"cnew-{unique}"
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    before = state()
    result = cli("cert", "revoke", name, "--reason", "unspecified")
    assert result.code == 1 and "never been issued" in result.err
    assert state() == before


def test_cli_delete_with_revoke(stack, cli, directory, unique):
    name = f"cdel-{unique}"
    cert = issue(cli, name, directory)
    result = cli("cert", "delete", name, "--revoke", "superseded")
    assert result.code == 0, result.err
    assert pebble_status(stack, cert["serial"])["Reason"] == 4
    assert cli("cert", "show", name).code == 1
    assert [h["action"] for h in history(name)][:2] == ["deleted", "revoked"]


@dataclass
class FailingOnce:
    """The real S3 store, except that marking fails once, as a throttled or unreachable S3 would."""

    real: Any
    failed: bool = False

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.real, attribute)

    def mark_revoked(self, name: str, revoked: dict[str, Any]) -> None:
        if not self.failed:
            self.failed = True
            raise AwsUnavailable("writing metadata.json: S3 is throttling (SlowDown)")
        self.real.mark_revoked(name, revoked)


def test_a_revocation_cut_short_after_the_ca_is_finished_by_the_retry(stack, cli, directory, unique):
    from acmevault.composition.services import services

    name = f"half-{unique}"
    cert = issue(cli, name, directory)
    flaky = replace(services(), files=FailingOnce(services().files))
    # GIVEN a revocation that reached the CA, then failed writing to S3
    with pytest.raises(AwsUnavailable):
        revoke_certificate(name, RevocationReason.KEY_COMPROMISE, flaky)
    assert pebble_status(stack, cert["serial"])["Status"] == "Revoked"
    assert show(cli, name)["status"] == "issued"  # the record is written last: not claimed done
    # WHEN it is tried again
    revoked = revoke_certificate(name, RevocationReason.KEY_COMPROMISE, flaky)
    # THEN the CA's "already revoked" is taken as done, and the marking is finished once
    assert revoked.state.status.value == "revoked"
    assert pebble_status(stack, cert["serial"])["Reason"] == 1
    assert [h["action"] for h in history(name)] == ["revoked"]
    assert show(cli, name)["status"] == "revoked"


def test_a_renewal_cut_short_between_s3_and_the_record_blocks_revocation(stack, cli, directory, unique):
    # GIVEN S3 serving a certificate other than the one the record names (another issued certificate's)
    name, other = f"skew-{unique}", f"skew2-{unique}"
    cert = issue(cli, name, directory)
    issue(cli, other, directory)
    s3, bucket = stack.aws("s3"), stack.env["ACMEVAULT_BUCKET"]
    s3.copy_object(
        Bucket=bucket,
        Key=f"certificates/{name}/cert.pem",
        CopySource={"Bucket": bucket, "Key": f"certificates/{other}/cert.pem"},
        ServerSideEncryption="aws:kms",
    )
    # WHEN it is revoked THEN nothing is revoked: which one is meant is not clear
    result = cli("cert", "revoke", name, "--reason", "keyCompromise")
    assert result.code == 1
    assert "S3 holds serial" in result.err and f"the record says {cert['serial']}" in result.err
    assert pebble_status(stack, cert["serial"])["Status"] == "Valid"


def test_a_certificate_being_issued_is_not_revoked_under_the_worker(stack, cli, directory, unique, state):
    from acmevault.composition.services import services

    name = f"busy-{unique}"
    cert = issue(cli, name, directory)
    table = services().certificates
    table.acquire_lease(name, "another-worker", datetime.now(UTC), 60)
    try:
        with pytest.raises(LeaseHeld):
            revoke_certificate(name, RevocationReason.SUPERSEDED, services())
        assert pebble_status(stack, cert["serial"])["Status"] == "Valid"
    finally:
        table.release_lease(name, "another-worker")
    assert revoke_certificate(name, RevocationReason.SUPERSEDED, services()).state.status.value == "revoked"


def test_revoking_twice_is_a_conflict_not_a_second_revocation(stack, cli, directory, unique):
    from acmevault.composition.services import services

    name = f"twice-{unique}"
    issue(cli, name, directory)
    revoke_certificate(name, RevocationReason.UNSPECIFIED, services())
    with pytest.raises(ConflictError, match="revoked already"):
        revoke_certificate(name, RevocationReason.UNSPECIFIED, services())
    assert [h["action"] for h in history(name)] == ["revoked"]
