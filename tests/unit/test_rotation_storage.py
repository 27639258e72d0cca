"""Rotations and superseded certificates read back from the items earlier versions stored (the DynamoDB
format does not change with the typed states), and are stored as before."""

from __future__ import annotations

from datetime import UTC, datetime

from acmevault.adapters.aws.directory_table import rotation_from_map, rotation_to_map
from acmevault.domain.directory import (
    RevocationState,
    RotationKind,
    RotationOutcome,
    RotationSource,
    RotationStep,
    SupersededCertificate,
)

STORED_ROTATION = {
    "token": "4f7c2a8e-5b3d-4e1f-9a6c-0d8b7e2f1a35",
    "kind": "replacement",
    "actor": "arn:aws:sts::123456789012:assumed-role/pki-operator/alice",
    "started_at": "2026-01-01T00:00:00+00:00",
    "previous_version": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
    "previous_account_url": "https://ca.test/acct/1",
    "source": "certcentral",
    "directory_url": "https://ca.test/dir",
    "account_url": "https://ca.test/acct/2",
    "revoke_previous": True,
    "certcentral_key_id": "1002",
    "previous_certcentral_key_id": "1001",
    "done": ["created", "set", "tested", "promoted", "queued", "deactivated", "certcentral"],
    "finished_at": "2026-01-01T00:05:00+00:00",
    "outcome": "rotated",
}

STORED_ENTRY = {  # a DIRREV# item's attributes, as rotation wrote them before issuers were recorded
    "serial": "4a2e9c71b3d05f68",
    "certificate_pem": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
    "account_url": "https://ca.test/acct/1",
    "token": "4f7c2a8e-5b3d-4e1f-9a6c-0d8b7e2f1a35",
    "noted_at": "2026-01-01T00:04:00+00:00",
    "state": "revoked",
    "revoked_at": "2026-01-02T00:00:00+00:00",
}


def test_a_stored_rotation_reads_as_typed_states_and_is_stored_as_it_was() -> None:
    rotation = rotation_from_map(STORED_ROTATION)
    assert rotation.kind is RotationKind.REPLACEMENT
    assert rotation.source is RotationSource.CERTCENTRAL
    assert rotation.outcome is RotationOutcome.ROTATED
    assert rotation.done == tuple(RotationStep) and all(type(s) is RotationStep for s in rotation.done)
    assert rotation.finished_at == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert rotation_to_map(rotation) == STORED_ROTATION


def test_a_rotation_in_progress_from_an_old_item_has_no_outcome_and_the_default_source() -> None:
    old = {k: v for k, v in STORED_ROTATION.items() if k not in ("source", "finished_at", "outcome")}
    rotation = rotation_from_map({**old, "done": ["created"]})
    assert rotation.source is RotationSource.OPERATOR
    assert rotation.outcome is None and not rotation.finished
    assert rotation.done == (RotationStep.CREATED,)
    assert "outcome" not in rotation_to_map(rotation)


def test_a_stored_superseded_certificate_reads_back_and_is_stored_as_it_was() -> None:
    entry = SupersededCertificate.from_dict("web", STORED_ENTRY)
    assert entry.certificate == "web" and entry.directory_url is None
    assert entry.state is RevocationState.REVOKED
    assert entry.revoked_at == datetime(2026, 1, 2, tzinfo=UTC)
    assert entry.to_dict() == STORED_ENTRY
    assert "certificate_pem" not in repr(entry) and "BEGIN CERTIFICATE" not in repr(entry)


def test_a_new_superseded_certificate_is_stored_with_the_attributes_earlier_versions_wrote() -> None:
    noted = SupersededCertificate(
        certificate="web",
        serial="01",
        certificate_pem="pem",
        account_url="https://ca.test/acct/1",
        directory_url="https://ca.test/dir",
        token="t",
        noted_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert noted.to_dict() == {
        "serial": "01",
        "certificate_pem": "pem",
        "account_url": "https://ca.test/acct/1",
        "directory_url": "https://ca.test/dir",
        "token": "t",
        "noted_at": "2026-01-01T00:00:00+00:00",
        "state": "waiting",
    }
