"""Certificate files in S3: certificates/<name>/{cert,chain,fullchain,privkey}.pem and metadata.json."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from acmevault.adapters.aws.clients import client, error_code, translated
from acmevault.domain.certificate import s3_prefix_for
from acmevault.domain.errors import ConflictError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
    from mypy_boto3_s3.type_defs import PutObjectRequestTypeDef

    from acmevault.domain.keys import CertificateBundle  # cryptography: annotations only (the API's init loads none)


class S3Store:
    """Files and KeyArchive in a versioned S3 bucket, every object encrypted with KMS."""

    def __init__(self, bucket: str, kms_key_id: str | None = None, region: str | None = None) -> None:
        self.bucket = bucket
        self._kms_key_id = kms_key_id
        self._region = region

    def put_bundle(self, name: str, bundle: CertificateBundle, metadata: dict[str, Any]) -> dict[str, str]:
        """Write the files, metadata.json last; return the version ids.

        Objects cannot be swapped together: while a renewal is half-written, cert.pem may be new and
        privkey.pem old. metadata.json, written last, names the version of each file of one matching
        set, so a reader that follows it never pairs a certificate with the wrong key.
        """
        s3 = client("s3", self._region)
        prefix = s3_prefix_for(name)
        files = {
            "cert.pem": bundle.certificate_pem,
            "chain.pem": bundle.chain_pem,
            "fullchain.pem": bundle.fullchain_pem,
            "privkey.pem": bundle.private_key_pem,
        }

        def put(filename: str) -> str:
            content_type = "application/json" if filename.endswith(".json") else "application/x-pem-file"
            with translated(f"writing s3://{self.bucket}/{prefix}{filename}"):
                response = s3.put_object(**self._object(prefix + filename, files[filename], content_type))
            return str(response.get("VersionId", ""))

        with ThreadPoolExecutor(max_workers=len(files)) as pool:
            versions = dict(zip(files, pool.map(put, list(files)), strict=True))
        files["metadata.json"] = json.dumps({**metadata, "versions": versions}, indent=2, sort_keys=True) + "\n"
        versions["metadata.json"] = put("metadata.json")
        return versions

    def get_certificate_pem(self, name: str) -> str:
        """The certificate (leaf, PEM) currently served from S3 for ``name``."""
        key = s3_prefix_for(name) + "cert.pem"
        body = self._get(key)
        if body is None:
            raise ConflictError(f"certificate {name!r} has no s3://{self.bucket}/{key}; issue it again first")
        return body

    def mark_revoked(self, name: str, revoked: dict[str, Any]) -> None:
        """Record the revocation in metadata.json (the PEMs stay, so nothing reads as if it vanished)."""
        key = s3_prefix_for(name) + "metadata.json"
        current = self._get(key)
        metadata = json.loads(current) if current else {"name": name}
        metadata["revoked"] = revoked
        body = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
        with translated(f"writing s3://{self.bucket}/{key}"):
            client("s3", self._region).put_object(**self._object(key, body, "application/json"))

    def _object(self, key: str, body: str, content_type: str) -> PutObjectRequestTypeDef:
        """A PutObject request: every object is encrypted with KMS (the stack's key when one is set)."""
        request: PutObjectRequestTypeDef = {
            "Bucket": self.bucket,
            "Key": key,
            "Body": body.encode(),
            "ContentType": content_type,
            "ServerSideEncryption": "aws:kms",
        }
        if self._kms_key_id:
            request["SSEKMSKeyId"] = self._kms_key_id
        return request

    def _get(self, key: str) -> str | None:
        with translated(f"reading s3://{self.bucket}/{key}"):
            try:
                response = client("s3", self._region).get_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if error_code(error) in ("NoSuchKey", "404"):
                    return None
                raise
            return str(response["Body"].read().decode())

    def find_private_key(self, name: str, certificate_pem: str) -> str | None:
        """The private key of an earlier certificate of ``name``, from privkey.pem's older versions
        (the bucket is versioned); None when no version matches. The newest versions are tried first."""
        from cryptography import x509

        from acmevault.domain.keys import load_private_key

        wanted = _spki(x509.load_pem_x509_certificate(certificate_pem.encode()).public_key())
        key = s3_prefix_for(name) + "privkey.pem"
        s3 = client("s3", self._region)
        with translated(f"listing the versions of s3://{self.bucket}/{key}"):
            pages = s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key)
            versions = [v for page in pages for v in page.get("Versions", []) if v["Key"] == key]
        for version in sorted(versions, key=lambda v: v["LastModified"], reverse=True):
            with translated(f"reading a version of s3://{self.bucket}/{key}"):
                body = s3.get_object(Bucket=self.bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
            pem = body.decode()
            if _spki(load_private_key(pem).public_key()) == wanted:
                return str(pem)
        return None


def _spki(public_key: PublicKeyTypes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
