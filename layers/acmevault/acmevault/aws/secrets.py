"""Directory credentials in Secrets Manager: one secret per directory, one version per credential set."""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from ..errors import ConflictError, DirectoryNotFound, ValidationError
from ..model import DirectoryCredential, validate_name
from .clients import client, error_code, translated

CACHE_SECONDS = 300.0


class DirectorySecrets:
    def __init__(self, prefix: str, kms_key_id: str | None = None, region: str | None = None) -> None:
        self.prefix = prefix
        self._kms_key_id = kms_key_id
        self._region = region
        # At most one read per directory per warm container within the cache window.
        self._cache: dict[str, tuple[float, DirectoryCredential]] = {}

    @property
    def _sm(self) -> Any:
        return client("secretsmanager", self._region)

    def secret_id(self, name: str) -> str:
        return self.prefix + validate_name(name, "directory")

    def get(self, name: str, stage: str = "AWSCURRENT") -> DirectoryCredential:
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
        try:
            self.get(name)
        except DirectoryNotFound:
            return False
        return True

    def create(self, name: str, credential: DirectoryCredential) -> None:
        args: dict[str, Any] = {
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

    def put_current(self, name: str, credential: DirectoryCredential) -> None:
        """A new AWSCURRENT version (the previous one becomes AWSPREVIOUS)."""
        with translated(f"updating directory {name!r}"):
            self._sm.put_secret_value(SecretId=self.secret_id(name), SecretString=json.dumps(credential.to_secret()))
        self._cache[name] = (time.monotonic(), credential)

    def list(self) -> list[str]:
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
        with translated(f"describing directory {name!r}"):
            try:
                response = self._sm.describe_secret(SecretId=self.secret_id(name))
            except ClientError as error:
                if error_code(error) == "ResourceNotFoundException":
                    raise DirectoryNotFound(name) from None
                raise
        dates = {
            k: response[v].isoformat()
            for k, v in (("created", "CreatedDate"), ("changed", "LastChangedDate"))
            if v in response
        }
        return {**dates, "versions": dict(response.get("VersionIdsToStages", {}).items())}
