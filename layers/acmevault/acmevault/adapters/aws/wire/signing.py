"""AWS Signature Version 4: the Authorization header of one request.

As AWS specifies it (docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html) and botocore
signs: the canonical request (method, path, sorted query, the signed headers, the payload's SHA-256),
the string to sign, and the key derived from the secret for the day, region and service. S3 is signed
the same way except that its path is not normalised or encoded a second time and the payload hash is
sent as ``x-amz-content-sha256``. ``tests/unit/test_aws_wire_signing.py`` holds this to botocore's signer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import quote

from acmevault.adapters.aws.wire.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
_UNSIGNED = {"authorization", "user-agent", "expect", "x-amzn-trace-id", "content-length"}


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """The key for one day, region and service, derived from the secret access key."""
    return _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), day), region), service), "aws4_request")


def canonical_query(query: Sequence[tuple[str, str]]) -> str:
    """The query string as signed (and sent): each name and value percent-encoded, sorted."""
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query))


def sign(
    *,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    payload_hash: str,
    credentials: Credentials,
    region: str,
    service: str,
    now: datetime,
    double_encode: bool = True,
) -> dict[str, str]:
    """The headers to add to a request (``host`` must be among ``headers``): X-Amz-Date, the session
    token when there is one, and Authorization. ``path`` is as sent (already percent-encoded once)."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    added = {"X-Amz-Date": stamp}
    if credentials.token:
        added["X-Amz-Security-Token"] = credentials.token
    signed = {k.lower(): " ".join(str(v).split()) for k, v in {**headers, **added}.items()}
    names = sorted(k for k in signed if k not in _UNSIGNED)
    canonical_path = quote(path, safe="/~") if double_encode else path
    canonical = "\n".join(
        [
            method,
            canonical_path or "/",
            canonical_query(query),
            "".join(f"{k}:{signed[k]}\n" for k in names),
            ";".join(names),
            payload_hash,
        ]
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(
        signing_key(credentials.secret_key, stamp[:8], region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    added["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return added
