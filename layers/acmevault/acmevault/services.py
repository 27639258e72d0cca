"""The composition root: real adapters from the settings, built once per container."""

from __future__ import annotations

from functools import cache

from .accounts import Accounts
from .aws.acm import AcmImporter
from .aws.dns import Route53Dns
from .aws.events import EventBridgeEvents
from .aws.kms import KmsKeyVault
from .aws.queue import IssueQueue
from .aws.s3 import S3Store
from .aws.secrets import DirectorySecrets
from .aws.sns import SnsAlerts
from .aws.table import CertificateTable
from .config import Settings, settings
from .errors import ConfigurationError
from .issuance import Services
from .ports import NoMetrics


def build(config: Settings) -> Services:
    directories = DirectorySecrets(config.secret_prefix, config.kms_key_id, config.region)
    return Services(
        directories=directories,
        accounts=Accounts(directories),
        certificates=CertificateTable(config.table_name, config.region),
        dns=Route53Dns(),
        acm=AcmImporter(),
        files=S3Store(config.bucket_name, config.kms_key_id, config.region),
        events=EventBridgeEvents(config.event_bus, config.region),
        alerts=SnsAlerts(config.alert_topic_arn, config.region),
        keys=KmsKeyVault(config.kms_key_id, config.region),
        metrics=NoMetrics(),
        default_acm_regions=config.acm_regions,
    )


@cache
def services() -> Services:
    return build(settings())


@cache
def queue() -> IssueQueue:
    config = settings()
    if not config.queue_url:
        raise ConfigurationError("environment variable ACMEVAULT_QUEUE_URL is not set")
    return IssueQueue(config.queue_url, config.region)
