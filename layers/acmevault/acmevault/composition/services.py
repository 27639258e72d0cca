"""The composition root: real adapters from the settings, built once per container.

The handlers (functions/*/app.py), the HTTP API's route dependencies (acmevault.entrypoints.http.dependencies)
and the command line take what they need from here, and nothing else builds an adapter.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING

from acmevault.adapters.acme.accounts import AcmeAccounts, open_session
from acmevault.adapters.aws.acm import AcmImporter
from acmevault.adapters.aws.clients import client
from acmevault.adapters.aws.directory_table import DynamoDirectoryRecords
from acmevault.adapters.aws.dns import Route53Dns
from acmevault.adapters.aws.events import EventBridgeEvents
from acmevault.adapters.aws.kms import KmsKeyVault
from acmevault.adapters.aws.queue import IssueQueue
from acmevault.adapters.aws.s3 import S3Store
from acmevault.adapters.aws.secrets import DirectorySecrets, SecretsManagerRotationSchedule, read_json_secret
from acmevault.adapters.aws.sns import SnsAlerts
from acmevault.adapters.aws.table import CertificateTable
from acmevault.app.accounts import Accounts
from acmevault.app.services import Services
from acmevault.composition.config import Settings, settings
from acmevault.domain.errors import ConfigurationError
from acmevault.ports.certificates import IssueRequests
from acmevault.ports.telemetry import NoMetrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer

    from acmevault.adapters.certcentral import CertCentral
    from acmevault.app.rotation import RotationServices

IDEMPOTENCY_PK = "IDEMPOTENCY"  # the HTTP API's idempotency records: their partition in the certificate table


def build(config: Settings) -> Services:
    """The services of the use cases, each port on its AWS adapter, as ``config`` says."""
    directories = DirectorySecrets(config.secret_prefix, config.kms_key_id, config.region)
    return Services(
        directories=directories,
        accounts=Accounts(
            directories,
            ca=AcmeAccounts(),
            open_session=open_session,
            states=DynamoDirectoryRecords(config.table_name, config.region),
            scheduler=(
                SecretsManagerRotationSchedule(directories, config.rotation_lambda_arn, config.rotation_schedule)
                if config.rotation_lambda_arn
                else None
            ),
        ),
        certificates=CertificateTable(config.table_name, config.region),
        dns=Route53Dns(),
        acm=AcmImporter(config.stack_name),
        files=S3Store(config.bucket_name, config.kms_key_id, config.region),
        events=EventBridgeEvents(config.event_bus, config.region),
        alerts=SnsAlerts(config.alert_topic_arn, config.region),
        keys=KmsKeyVault(config.kms_key_id, config.region),
        metrics=NoMetrics(),
        default_acm_regions=config.acm_regions,
        approval_alert_after=timedelta(hours=config.approval_alert_hours),
    )


@cache
def services() -> Services:
    """The process's services, built from its settings at first use."""
    return build(settings())


@cache
def queue() -> IssueQueue:
    """The issue queue; ConfigurationError when ACMEVAULT_QUEUE_URL is not set."""
    config = settings()
    if not config.queue_url:
        raise ConfigurationError("environment variable ACMEVAULT_QUEUE_URL is not set")
    return IssueQueue(config.queue_url, config.region)


def build_rotation(config: Settings, services: Services, issue_queue: IssueRequests) -> RotationServices:
    """What the rotation use cases need, around the given services (sharing their accounts)."""
    from acmevault.adapters.certcentral import CertCentral, CertCentralSettings  # rotation's alone: loaded here
    from acmevault.app.rotation import RotationServices

    certcentral_secret = config.certcentral_secret

    def certcentral() -> CertCentral:
        # Read when a rotation asks for CertCentral, not before: its API key is needed for nothing else.
        assert certcentral_secret is not None
        return CertCentral(CertCentralSettings.from_secret(read_json_secret(certcentral_secret, config.region)))

    return RotationServices(
        secrets=DirectorySecrets(config.secret_prefix, config.kms_key_id, config.region),
        records=DynamoDirectoryRecords(config.table_name, config.region),
        certificates=services.certificates,
        queue=issue_queue,
        keys=S3Store(config.bucket_name, config.kms_key_id, config.region),
        ca=AcmeAccounts(),
        events=services.events,
        alerts=services.alerts,
        cache=services.accounts,
        certcentral=certcentral if certcentral_secret else None,
        clock=services.clock,
    )


@cache
def rotation() -> RotationServices:
    """The process's rotation services, around its services and its issue queue."""
    return build_rotation(settings(), services(), queue())


@cache
def idempotency_store() -> BasePersistenceLayer:
    """Where the HTTP API keeps what a POST or PUT answered (Powertools idempotency): the certificate table's
    IDEMPOTENCY partition. Built at the first POST or PUT, not at import: the other functions never need it."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    config = settings()
    return DynamoDBPersistenceLayer(
        table_name=config.table_name,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value=IDEMPOTENCY_PK,
        boto3_client=client("dynamodb", config.region),
    )
