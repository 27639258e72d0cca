"""Environment → frozen settings, read once per process; fails fast naming the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from acmevault.domain.errors import ConfigurationError, ValidationError
from acmevault.domain.policy import validate_principal_pattern
from acmevault.domain.validation import validate_region

SECRET_PREFIX_DEFAULT = "acmevault/directories/"  # noqa: S105 - a name prefix (no stack named), not a secret


def secret_prefix_for(stack_name: str | None) -> str:
    """Where a stack's directory secrets are named: ``acmevault/<stack>/directories/``, so two stacks in one
    account (and the IAM conditions on that prefix) never share a credential."""
    return f"acmevault/{stack_name}/directories/" if stack_name else SECRET_PREFIX_DEFAULT


@dataclass(frozen=True)
class Settings:
    """What a deployment is configured with: the ACMEVAULT_* variables (and AWS_REGION), checked."""

    region: str
    table_name: str
    bucket_name: str
    kms_key_id: str | None
    queue_url: str | None
    secret_prefix: str
    acm_regions: tuple[str, ...]
    event_bus: str | None
    alert_topic_arn: str | None
    per_certificate_metrics: bool
    # Directory rotation: the rotation function put on each new directory's schedule (unset: none),
    # how often it rolls the account key, and CertCentral's API key secret (unset: not used).
    rotation_lambda_arn: str | None = None
    rotation_schedule: str = "rate(90 days)"
    certcentral_secret: str | None = None
    # Tenancy: ARN patterns of the admins (every route), and the CloudFormation stack whose ACM
    # ownership tag (acmevault:stack) new imports carry; unset on the local stack's CLI: no stack tag.
    admin_principals: tuple[str, ...] = ()
    stack_name: str | None = None
    # an order the CA keeps processing this long (DigiCert approval) is told to people, then daily
    approval_alert_hours: float = 24.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from ``env``; ConfigurationError names a variable that is missing or wrong."""

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigurationError(
                    f"environment variable {name} is not set: name the deployed stack with --stack NAME (or "
                    'ACMEVAULT_STACK), or for the local stack run eval "$(acmevault local up)"'
                )
            return value

        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
        if not region:
            raise ConfigurationError("environment variable AWS_REGION (or AWS_DEFAULT_REGION) is not set")
        acm_regions = tuple(
            validate_region(r.strip(), "ACMEVAULT_ACM_REGIONS")
            for r in env.get("ACMEVAULT_ACM_REGIONS", "").split(",")
            if r.strip()
        )
        return cls(
            region=region,
            table_name=required("ACMEVAULT_TABLE"),
            bucket_name=required("ACMEVAULT_BUCKET"),
            kms_key_id=env.get("ACMEVAULT_KMS_KEY_ID") or None,
            queue_url=env.get("ACMEVAULT_QUEUE_URL") or None,
            secret_prefix=env.get("ACMEVAULT_SECRET_PREFIX") or secret_prefix_for(env.get("ACMEVAULT_STACK_NAME")),
            acm_regions=acm_regions or (region,),
            event_bus=env.get("ACMEVAULT_EVENT_BUS") or None,
            alert_topic_arn=env.get("ACMEVAULT_ALERT_TOPIC_ARN") or None,
            per_certificate_metrics=env.get("ACMEVAULT_PER_CERTIFICATE_METRICS", "true").lower() != "false",
            rotation_lambda_arn=env.get("ACMEVAULT_ROTATION_LAMBDA_ARN") or None,
            rotation_schedule=env.get("ACMEVAULT_ROTATION_SCHEDULE") or "rate(90 days)",
            certcentral_secret=env.get("ACMEVAULT_CERTCENTRAL_SECRET") or None,
            admin_principals=_admins(env.get("ACMEVAULT_ADMIN_PRINCIPALS", "")),
            stack_name=env.get("ACMEVAULT_STACK_NAME") or None,
            approval_alert_hours=_hours(env.get("ACMEVAULT_APPROVAL_ALERT_HOURS")),
        )


def _admins(value: str) -> tuple[str, ...]:
    try:
        return tuple(validate_principal_pattern(p.strip()) for p in value.split(",") if p.strip())
    except ValidationError as error:
        raise ConfigurationError(f"environment variable ACMEVAULT_ADMIN_PRINCIPALS: {error.message}") from None


def _hours(value: str | None) -> float:
    if value is None or not value.strip():
        return 24.0
    try:
        hours = float(value)
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= 24 * 365:
        raise ConfigurationError(f"environment variable ACMEVAULT_APPROVAL_ALERT_HOURS={value!r} is not 0-8760 hours")
    return hours


@cache
def settings() -> Settings:
    """The process's settings, read from the environment the first time they are needed."""
    return Settings.from_env(os.environ)
