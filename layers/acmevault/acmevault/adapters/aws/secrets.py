"""Directory credentials in Secrets Manager: one secret per directory, one version per credential set."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from acmevault.adapters.aws.clients import client, error_code, translated
from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import ConfigurationError, ConflictError, DirectoryNotFound, ValidationError
from acmevault.domain.quoting import quoted
from acmevault.domain.validation import validate_name

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_secretsmanager.type_defs import (
        CreateSecretRequestTypeDef,
        DescribeSecretResponseTypeDef,
        UpdateSecretVersionStageRequestTypeDef,
    )

CACHE_SECONDS = 300.0


class DirectorySecrets:
    """Directories and CredentialVersions in Secrets Manager: one secret per directory under ``prefix``."""

    def __init__(self, prefix: str, kms_key_id: str | None = None, region: str | None = None) -> None:
        self.prefix = prefix
        self._kms_key_id = kms_key_id
        self._region = region
        # At most one read per directory per warm container within the cache window.
        self._cache: dict[str, tuple[float, DirectoryCredential]] = {}

    @property
    def _sm(self) -> SecretsManagerClient:
        return client("secretsmanager", self._region)

    def secret_id(self, name: str) -> str:
        """The secret name of directory ``name``; ValidationError when it is not a valid name."""
        return self.prefix + validate_name(name, "directory")

    def get(self, name: str, stage: str = "AWSCURRENT") -> DirectoryCredential:
        """The credential at ``stage``; AWSCURRENT comes from this container's cache for up to five minutes.
        DirectoryNotFound when there is no secret, ValidationError when its value is not a credential."""
        cached = self._cache.get(name)
        if stage == "AWSCURRENT" and cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        with translated(f"reading directory {name!r}"):
            try:
                response = self._sm.get_secret_value(SecretId=self.secret_id(name), VersionStage=stage)
            except ClientError as error:
                if error_code(error) == "ResourceNotFoundException":
                    raise DirectoryNotFound(name) from None
                raise
        try:
            credential = DirectoryCredential.from_secret(json.loads(response["SecretString"]))
        except (ValueError, TypeError):
            raise ValidationError("secret", f"directory {name!r}: the secret is not valid JSON") from None
        if stage == "AWSCURRENT":
            self._cache[name] = (time.monotonic(), credential)
        return credential

    def exists(self, name: str) -> bool:
        """Whether the directory's secret exists (read, and cached, as ``get`` does)."""
        try:
            self.get(name)
        except DirectoryNotFound:
            return False
        return True

    def create(self, name: str, credential: DirectoryCredential) -> None:
        """A new secret for the directory (with the stack's KMS key, when set); ConflictError when it exists."""
        args: CreateSecretRequestTypeDef = {
            "Name": self.secret_id(name),
            "SecretString": json.dumps(credential.to_secret()),
            "Description": f"acmevault ACME directory credential {name}",
            "Tags": [{"Key": "acmevault:directory", "Value": name}],
        }
        if self._kms_key_id:
            args["KmsKeyId"] = self._kms_key_id
        with translated(f"storing directory {name!r}"):
            try:
                self._sm.create_secret(**args)
            except ClientError as error:
                if error_code(error) == "ResourceExistsException":
                    raise ConflictError(
                        f"directory {name!r} already exists; "
                        f"replace its credential with 'acmevault directory rotate {name}'"
                    ) from None
                raise
        self._cache[name] = (time.monotonic(), credential)

    def list(self) -> list[str]:
        """The directories under the prefix, sorted."""
        names: list[str] = []
        with translated("listing directories"):
            paginator = self._sm.get_paginator("list_secrets")
            for page in paginator.paginate(Filters=[{"Key": "name", "Values": [self.prefix]}]):
                for secret in page["SecretList"]:
                    if secret["Name"].startswith(self.prefix):
                        names.append(secret["Name"][len(self.prefix) :])
        return sorted(names)

    def describe(self, name: str) -> dict[str, Any]:
        """Version stages and dates of a directory secret: metadata only, no values."""
        response = self._describe(name)
        dates = {
            k: v.isoformat()
            for k, v in (("created", response.get("CreatedDate")), ("changed", response.get("LastChangedDate")))
            if v is not None
        }
        return {**dates, "versions": dict(response.get("VersionIdsToStages", {}).items())}

    # -- versions and stages, for rotation ------------------------------------------------------

    def forget(self, name: str) -> None:
        """Drop the cached credential: the next get reads Secrets Manager again."""
        self._cache.pop(name, None)

    def name_of(self, secret_id: str) -> str:
        """The directory name of a secret given by ARN or name (a rotation event carries the ARN)."""
        with translated("describing the secret to rotate"):
            try:
                full_name = str(self._sm.describe_secret(SecretId=secret_id)["Name"])
            except ClientError as error:
                if error_code(error) == "ResourceNotFoundException":
                    raise DirectoryNotFound(secret_id) from None
                raise
        if not full_name.startswith(self.prefix):
            raise ValidationError(
                "SecretId", f"{quoted(full_name)} is not an acmevault directory secret ({self.prefix}...)"
            )
        return validate_name(full_name[len(self.prefix) :], "directory")

    def stages(self, name: str) -> dict[str, tuple[str, ...]]:
        """Version id → its staging labels (AWSCURRENT, AWSPENDING, AWSPREVIOUS, ...)."""
        response = self._describe(name)
        return {k: tuple(v) for k, v in response.get("VersionIdsToStages", {}).items()}

    def version_with(self, name: str, stage: str) -> str | None:
        """The version labelled ``stage``, or None; DirectoryNotFound when the directory is not vaulted."""
        return next((v for v, labels in self.stages(name).items() if stage in labels), None)

    def get_version(self, name: str, version_id: str) -> DirectoryCredential | None:
        """One version by id; None when it does not exist or has no value yet (as when Secrets Manager
        starts a rotation: the version is there, labelled AWSPENDING, before createSecret fills it)."""
        with translated(f"reading a version of directory {name!r}"):
            try:
                response = self._sm.get_secret_value(SecretId=self.secret_id(name), VersionId=version_id)
            except ClientError as error:
                if error_code(error) == "ResourceNotFoundException":
                    return None
                raise
        try:
            return DirectoryCredential.from_secret(json.loads(response["SecretString"]))
        except (ValueError, TypeError):
            raise ValidationError("secret", f"directory {name!r}: version {version_id} is not valid JSON") from None

    def put_version(self, name: str, version_id: str, credential: DirectoryCredential, stage: str) -> None:
        """Store a complete credential set as a new version with one staging label (never AWSCURRENT here)."""
        assert stage != "AWSCURRENT", "a version becomes current through promote()"
        with translated(f"staging a credential for directory {name!r}"):
            self._sm.put_secret_value(
                SecretId=self.secret_id(name),
                ClientRequestToken=version_id,
                SecretString=json.dumps(credential.to_secret()),
                VersionStages=[stage],
            )

    def remove_stage(self, name: str, stage: str, version_id: str) -> None:
        """Take the label ``stage`` off version ``version_id``."""
        with translated(f"removing {stage} from a version of directory {name!r}"):
            self._sm.update_secret_version_stage(
                SecretId=self.secret_id(name), VersionStage=stage, RemoveFromVersionId=version_id
            )

    def promote(self, name: str, version_id: str) -> None:
        """Make a version AWSCURRENT (Secrets Manager moves AWSPREVIOUS to the one it replaces) and
        take AWSPENDING off it."""
        current = self.version_with(name, "AWSCURRENT")
        with translated(f"making the new credential of directory {name!r} current"):
            if current != version_id:
                move: UpdateSecretVersionStageRequestTypeDef = {
                    "SecretId": self.secret_id(name),
                    "VersionStage": "AWSCURRENT",
                    "MoveToVersionId": version_id,
                }
                if current:
                    move["RemoveFromVersionId"] = current
                self._sm.update_secret_version_stage(**move)
        if "AWSPENDING" in self.stages(name).get(version_id, ()):
            self.remove_stage(name, "AWSPENDING", version_id)
        self.forget(name)

    def schedule_rotation(self, name: str, lambda_arn: str, schedule_expression: str) -> None:
        """Put the secret on Secrets Manager's rotation schedule with acmevault's rotation function
        (no rotation now: the account was registered a moment ago). DirectoryNotFound when it is not vaulted."""
        with translated(f"scheduling the rotation of directory {name!r}"):
            try:
                self._sm.rotate_secret(
                    SecretId=self.secret_id(name),
                    RotationLambdaARN=lambda_arn,
                    RotationRules={"ScheduleExpression": schedule_expression},
                    RotateImmediately=False,
                )
            except ClientError as error:
                if error_code(error) == "ResourceNotFoundException":
                    raise DirectoryNotFound(name) from None
                raise

    def _describe(self, name: str) -> DescribeSecretResponseTypeDef:
        with translated(f"describing directory {name!r}"):
            try:
                return self._sm.describe_secret(SecretId=self.secret_id(name))
            except ClientError as error:
                if error_code(error) == "ResourceNotFoundException":
                    raise DirectoryNotFound(name) from None
                raise


class SecretsManagerRotationSchedule:
    """Schedules each newly vaulted directory for rotation (account key rollover) by acmevault's function."""

    def __init__(self, secrets: DirectorySecrets, lambda_arn: str, schedule_expression: str) -> None:
        self._secrets = secrets
        self.lambda_arn = lambda_arn
        self.schedule_expression = schedule_expression

    def schedule(self, name: str) -> None:
        """Put directory ``name`` on the rotation schedule; DirectoryNotFound when it is not vaulted."""
        self._secrets.schedule_rotation(name, self.lambda_arn, self.schedule_expression)


def read_json_secret(secret_id: str, region: str | None = None) -> Any:
    """Another secret acmevault reads (CertCentral's API key): its JSON value; the message never quotes it."""
    with translated(f"reading the secret {secret_id!r}"):
        try:
            value = client("secretsmanager", region).get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise ConfigurationError(f"the secret {secret_id!r} does not exist") from None
            raise
    try:
        return json.loads(value["SecretString"])
    except (ValueError, TypeError, KeyError):
        raise ConfigurationError(f"the secret {secret_id!r} is not JSON") from None
