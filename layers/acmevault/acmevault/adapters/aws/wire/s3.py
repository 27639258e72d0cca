"""S3 through its REST API: the three operations acmevault's bucket needs.

botocore's method names, arguments and answers for ``put_object``, ``get_object`` (the answer's
``Body`` has ``read()``) and ``list_object_versions`` (and its paginator). On AWS a bucket is
addressed as its own host (``bucket.s3.region.amazonaws.com``), as botocore does for a bucket name
without dots; an endpoint from the environment (moto) is addressed path-style. Requests are signed
with the payload's SHA-256 in ``x-amz-content-sha256``.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from acmevault.adapters.aws.wire import transport, xml
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.endpoints import Endpoint, resolve
from acmevault.adapters.aws.wire.operations import Paginator

_PUT_HEADERS = {  # botocore's argument -> the header it is sent as
    "ContentType": "Content-Type",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
    "CacheControl": "Cache-Control",
}
_ANSWER_HEADERS = {  # the header -> botocore's answer field
    "etag": "ETag",
    "x-amz-version-id": "VersionId",
    "content-type": "ContentType",
    "content-length": "ContentLength",
    "x-amz-server-side-encryption": "ServerSideEncryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "SSEKMSKeyId",
}


def parse_error(response: transport.Response) -> tuple[str, str]:
    """The error code and message of an S3 error answer; a body-less one (HEAD) is its status, as botocore."""
    return xml.rest_error(response.status, response.body)


def _fields(response: transport.Response) -> dict[str, Any]:
    fields: dict[str, Any] = {v: response.headers[k] for k, v in _ANSWER_HEADERS.items() if k in response.headers}
    if "ContentLength" in fields:
        fields["ContentLength"] = int(fields["ContentLength"])
    return fields


def _next_versions(page: dict[str, Any]) -> dict[str, Any] | None:
    if not page.get("IsTruncated"):
        return None
    return {"KeyMarker": page.get("NextKeyMarker", ""), "VersionIdMarker": page.get("NextVersionIdMarker", "")}


class S3Client:
    """S3 in one region."""

    def __init__(self, region: str, credentials: Credentials | None = None) -> None:
        self._endpoint = resolve("s3", region)
        self._credentials = credentials

    def _where(self, bucket: str, key: str = "") -> tuple[Endpoint, str]:
        quoted = quote(key, safe="/~")
        if self._endpoint.custom or "." in bucket:
            return self._endpoint, f"/{bucket}/{quoted}" if key else f"/{bucket}"
        return replace(self._endpoint, host=f"{bucket}.{self._endpoint.host}"), f"/{quoted}"

    def _send(self, bucket: str, key: str, request: transport.Request) -> transport.Response:
        endpoint, path = self._where(bucket, key)
        return transport.send(
            endpoint, replace(request, path=path), parse_error, credentials=self._credentials, sign_payload_header=True
        )

    def put_object(self, Bucket: str, Key: str, Body: bytes = b"", **arguments: Any) -> dict[str, Any]:  # noqa: N803
        """Write one object; its ETag and VersionId (on a versioned bucket)."""
        unknown = set(arguments) - set(_PUT_HEADERS)
        if unknown:
            raise TypeError(f"acmevault's put_object does not send {sorted(unknown)}")
        headers = {_PUT_HEADERS[k]: str(v) for k, v in arguments.items()}
        return _fields(self._send(Bucket, Key, transport.Request("PutObject", "PUT", headers=headers, body=Body)))

    def get_object(self, Bucket: str, Key: str, VersionId: str | None = None) -> dict[str, Any]:  # noqa: N803
        """Read one object (a version of it); ``Body`` has ``read()``."""
        query = [("versionId", VersionId)] if VersionId else []
        response = self._send(Bucket, Key, transport.Request("GetObject", "GET", query=query))
        return {**_fields(response), "Body": io.BytesIO(response.body)}

    def list_object_versions(self, Bucket: str, **arguments: Any) -> dict[str, Any]:  # noqa: N803
        """One page of the versions under a prefix."""
        names = {
            "Prefix": "prefix",
            "KeyMarker": "key-marker",
            "VersionIdMarker": "version-id-marker",
            "MaxKeys": "max-keys",
        }
        query = [("versions", ""), *((names[k], str(v)) for k, v in arguments.items() if v)]
        response = self._send(Bucket, "", transport.Request("ListObjectVersions", "GET", query=query))
        _, answer = xml.parse(response.body)
        page: dict[str, Any] = answer if isinstance(answer, dict) else {}
        versions = [
            {
                **v,
                "IsLatest": v.get("IsLatest") == "true",
                "LastModified": xml.timestamp(v["LastModified"]),
                **({"Size": int(v["Size"])} if "Size" in v else {}),
            }
            for v in xml.listed(page.get("Version"))
        ]
        page.pop("Version", None)
        return {**page, "Versions": versions, "IsTruncated": page.get("IsTruncated") == "true"}

    def get_paginator(self, method: str) -> Paginator:
        """The paginator of ``list_object_versions`` (the one listing offered)."""
        if method != "list_object_versions":
            raise AttributeError(f"acmevault's s3 client has no paginator {method!r}")
        return Paginator(self.list_object_versions, _next_versions)
