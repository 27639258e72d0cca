"""Certificate files in S3: certificates/<name>/{cert,chain,fullchain,privkey}.pem and metadata.json."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from ..errors import ConflictError
from ..keys import CertificateBundle
from .clients import client, error_code, translated


def prefix_for(name: str) -> str:
    return f"certificates/{name}/"


class S3Store:
    def __init__(self, bucket: str, kms_key_id: str | None = None, region: str | None = None) -> None:
        self.bucket = bucket
        self._kms_key_id = kms_key_id
        self._region = region

    def put_bundle(self, name: str, bundle: CertificateBundle, metadata: dict[str, Any]) -> dict[str, str]:
        """Write the files, metadata.json last so a reader never sees it ahead of the PEMs; return versions."""
        s3 = client("s3", self._region)
        prefix = prefix_for(name)
        files = {
            "cert.pem": bundle.certificate_pem,
            "chain.pem": bundle.chain_pem,
            "fullchain.pem": bundle.fullchain_pem,
            "privkey.pem": bundle.private_key_pem,
            "metadata.json": json.dumps(metadata, indent=2, sort_keys=True) + "\n",
        }
        encryption: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
        if self._kms_key_id:
            encryption["SSEKMSKeyId"] = self._kms_key_id

        def put(filename: str) -> str:
            content_type = "application/json" if filename.endswith(".json") else "application/x-pem-file"
            with translated(f"writing s3://{self.bucket}/{prefix}{filename}"):
                response = s3.put_object(
                    Bucket=self.bucket,
                    Key=prefix + filename,
                    Body=files[filename].encode(),
                    ContentType=content_type,
                    **encryption,
                )
            return str(response.get("VersionId", ""))

        pems = [f for f in files if f != "metadata.json"]
        with ThreadPoolExecutor(max_workers=len(pems)) as pool:
            versions = dict(zip(pems, pool.map(put, pems), strict=True))
        versions["metadata.json"] = put("metadata.json")
        return versions

    def get_certificate_pem(self, name: str) -> str:
        """The certificate (leaf, PEM) currently served from S3 for ``name``."""
        key = prefix_for(name) + "cert.pem"
        body = self._get(key)
        if body is None:
            raise ConflictError(f"certificate {name!r} has no s3://{self.bucket}/{key}; issue it again first")
        return body

    def mark_revoked(self, name: str, revoked: dict[str, Any]) -> None:
        """Record the revocation in metadata.json (the PEMs stay, so nothing reads as if it vanished)."""
        key = prefix_for(name) + "metadata.json"
        current = self._get(key)
        metadata = json.loads(current) if current else {"name": name}
        metadata["revoked"] = revoked
        encryption: dict[str, str] = {"ServerSideEncryption": "aws:kms"}
        if self._kms_key_id:
            encryption["SSEKMSKeyId"] = self._kms_key_id
        with translated(f"writing s3://{self.bucket}/{key}"):
            client("s3", self._region).put_object(
                Bucket=self.bucket,
                Key=key,
                Body=(json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode(),
                ContentType="application/json",
                **encryption,
            )

    def _get(self, key: str) -> str | None:
        with translated(f"reading s3://{self.bucket}/{key}"):
            try:
                response = client("s3", self._region).get_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if error_code(error) in ("NoSuchKey", "404"):
                    return None
                raise
            return str(response["Body"].read().decode())
