"""What acmevault.ports says each AWS adapter raises, against moto: a missing thing is acmevault's error (or None, or
nothing), never botocore's, and never AwsError where the port promises a NotFound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from acmevault.adapters.aws.acm import AcmImporter
from acmevault.adapters.aws.directory_table import DynamoDirectoryRecords
from acmevault.adapters.aws.dns import Route53Dns
from acmevault.adapters.aws.s3 import S3Store
from acmevault.adapters.aws.secrets import DirectorySecrets
from acmevault.adapters.aws.table import CertificateTable
from acmevault.composition.config import Settings
from acmevault.domain.certificate import CertificateSpec, CertificateState
from acmevault.domain.directory import DirectoryStatus
from acmevault.domain.errors import (
    CertificateNotFound,
    ConflictError,
    DirectoryNotFound,
    DnsError,
    LeaseHeld,
    ValidationError,
)

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def config(stack: Any) -> Settings:
    return Settings.from_env(stack.env)


@pytest.fixture
def table(config: Settings) -> CertificateTable:
    return CertificateTable(config.table_name, config.region)


@pytest.fixture
def secrets(config: Settings) -> DirectorySecrets:
    return DirectorySecrets(config.secret_prefix, config.kms_key_id, config.region)


def test_a_certificate_that_is_not_defined_is_certificate_not_found(table: CertificateTable, unique: str) -> None:
    name = f"missing-{unique}"
    with pytest.raises(CertificateNotFound):
        table.get(name)
    with pytest.raises(CertificateNotFound):
        table.mark_due(name, NOW)
    with pytest.raises(CertificateNotFound):
        table.save_state(name, CertificateState())
    with pytest.raises(CertificateNotFound):
        table.acquire_lease(name, "worker-1", NOW, 60)
    with pytest.raises(CertificateNotFound):
        table.delete(name)
    table.release_lease(name, "worker-1")  # nothing to let go of
    table.postpone_alert(name, NOW)  # nothing to postpone, and no item written
    assert table.history(name) == ()
    with pytest.raises(CertificateNotFound):
        table.get(name)


def test_a_lease_held_by_another_owner_is_lease_held(table: CertificateTable, unique: str) -> None:
    name = f"leased-{unique}"
    table.put_spec(CertificateSpec.parse(name, {"domains": [f"{name}.example.com"], "directory": "d"}), NOW)
    table.acquire_lease(name, "worker-1", NOW, 60)
    with pytest.raises(LeaseHeld):
        table.acquire_lease(name, "worker-2", NOW, 60)
    table.acquire_lease(name, "worker-1", NOW, 60)  # the holder renews it
    table.acquire_lease(name, "worker-2", NOW + timedelta(seconds=61), 60)  # and an expired lease is taken over


def test_postponing_the_alert_of_a_certificate_without_one_writes_none(table: CertificateTable, unique: str) -> None:
    name = f"no-alert-{unique}"
    table.put_spec(CertificateSpec.parse(name, {"domains": [f"{name}.example.com"], "directory": "d"}), NOW)
    table.postpone_alert(name, NOW + timedelta(days=1))
    assert table.get(name).state.alert_at is None


def test_a_directory_that_is_not_vaulted_is_directory_not_found(secrets: DirectorySecrets, unique: str) -> None:
    name = f"missing-{unique}"
    assert not secrets.exists(name)
    for call in (
        lambda: secrets.get(name),
        lambda: secrets.describe(name),
        lambda: secrets.stages(name),
        lambda: secrets.version_with(name, "AWSCURRENT"),
        lambda: secrets.promote(name, "0" * 32),
        lambda: secrets.name_of(secrets.secret_id(name)),
        lambda: secrets.schedule_rotation(
            name, "arn:aws:lambda:us-east-1:123456789012:function:rotate", "rate(90 days)"
        ),
    ):
        with pytest.raises(DirectoryNotFound):
            call()
    assert secrets.get_version(name, "0" * 32) is None
    with pytest.raises(ValidationError):
        secrets.get("Not A Name")


def test_a_directory_vaulted_twice_is_a_conflict(secrets: DirectorySecrets, stack: Any, unique: str) -> None:
    from acmevault.domain.directory import DirectoryCredential

    name = f"twice-{unique}"
    credential = DirectoryCredential(directory_url=stack.directory_url)
    secrets.create(name, credential)
    with pytest.raises(ConflictError):
        secrets.create(name, credential)


def test_a_directory_without_records_reads_as_active_and_never_rotated(config: Settings, unique: str) -> None:
    records = DynamoDirectoryRecords(config.table_name, config.region)
    name = f"fresh-{unique}"
    assert records.state(name).status is DirectoryStatus.ACTIVE
    assert records.policy(name) is None
    assert records.rotation(name) is None
    assert records.history(name) == []
    assert records.revocations(name) == []


def test_files_acm_and_dns_say_what_is_missing(config: Settings, unique: str) -> None:
    with pytest.raises(ConflictError):
        S3Store(config.bucket_name, config.kms_key_id, config.region).get_certificate_pem(f"missing-{unique}")
    missing_arn = f"arn:aws:acm:{config.region}:123456789012:certificate/{unique}-0000-0000-0000-000000000000"
    AcmImporter().delete_certificate(config.region, missing_arn)  # one deleted already is fine
    AcmImporter().mark_revoked(config.region, missing_arn, "keyCompromise")  # nothing to tag
    with pytest.raises(DnsError):
        Route53Dns().zone_for(f"{unique}.nowhere.invalid")
