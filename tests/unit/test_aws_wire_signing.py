"""Our requests are signed as botocore signs them (wire/signing.py through wire/transport.py).

Each request is made through our client and taken from the transport as it would go on the wire (its
method, URL, headers and body, at a fixed time); botocore's signer (SigV4Auth, or S3SigV4Auth for S3)
then signs the same request at the same time, built from the URL botocore's own client sends for the
same call and the headers and body we send: the Authorization, X-Amz-Date, X-Amz-Security-Token and
X-Amz-Content-SHA256 headers are the same. So a path or query encoded differently from botocore (an S3
key with a space, ``+``, ``~``, non-ASCII or ``/``; a Route 53 name with ``*``) fails here too.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import botocore.auth
import botocore.credentials
import pytest
from acmevault.adapters.aws.wire import transport
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.signing import sign
from botocore.awsrequest import AWSRequest

from tests.unit.aws_wire_reference import KEYS, botocore_call, isolate, our_client

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
TEMPORARY = Credentials("ASIAEXAMPLE", "tHe/SeCrEt+kEy", "IQoJb3JpZ2luX2VjE//////////wEaCXVzLWVhc3QtMSJH+token==")
SIGNATURE_HEADERS = ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256")
KEY = "certificates/www example.com/a+b~c (1)/ünï çødé/privkey.pem"
XML = b"<A><ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status></ChangeInfo></A>"

CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "dynamodb",
        "us-east-1",
        "put_item",
        {"TableName": "t", "Item": {"pk": {"S": "é"}, "b": {"B": b"\x00"}}, "ConditionExpression": "a <> :b"},
    ),
    ("sqs", "eu-west-1", "send_message", {"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/1/q", "MessageBody": "x"}),
    ("sts", "eu-west-1", "assume_role", {"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "acmevault"}),
    ("sns", "us-east-1", "publish", {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "a b&c=d+é"}),
    (
        "route53",
        "eu-west-1",
        "list_resource_record_sets",
        {
            "HostedZoneId": "/hostedzone/Z0123",
            "StartRecordName": "_acme-challenge.*.example.com.",
            "StartRecordType": "TXT",
            "MaxItems": "1",
        },
    ),
    ("route53", "us-east-1", "list_hosted_zones", {"Marker": "Z0 +/=NEXT"}),
    (
        "route53",
        "us-east-1",
        "change_resource_record_sets",
        {
            "HostedZoneId": "Z0123",
            "ChangeBatch": {
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": "_acme-challenge.example.com.",
                            "Type": "TXT",
                            "TTL": 60,
                            "ResourceRecords": [{"Value": '"v"'}],
                        },
                    }
                ]
            },
        },
    ),
    ("route53", "cn-north-1", "get_change", {"Id": "/change/C2682N5HXP0BZ4"}),
    (
        "s3",
        "eu-west-1",
        "put_object",
        {"Bucket": "acmevault-certs", "Key": KEY, "Body": b"pem", "ContentType": "application/x-pem-file"},
    ),
    ("s3", "eu-west-1", "put_object", {"Bucket": "acme.vault", "Key": "a  b/+/~", "Body": b""}),
    ("s3", "eu-west-1", "get_object", {"Bucket": "acmevault-certs", "Key": KEY, "VersionId": "3/L4kqtJl+cGh=u.~"}),
    ("s3", "us-gov-west-1", "list_object_versions", {"Bucket": "acmevault-certs", "Prefix": KEY}),
]


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What our transport puts on the wire, at NOW; every request answered 200 (an empty document)."""
    isolate(monkeypatch)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return NOW

    sent: list[dict[str, Any]] = []

    def exchange(endpoint: Any, method: str, target: str, headers: dict[str, str], body: bytes) -> Any:
        sent.append({"endpoint": endpoint, "method": method, "target": target, "headers": headers, "body": body})
        return transport.Response(200, {}, b"{}" if "x-amz-target" in {k.lower() for k in headers} else XML)

    monkeypatch.setattr(transport, "datetime", Frozen)
    monkeypatch.setattr(transport, "_exchange", exchange)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: NOW.replace(tzinfo=None))
    return sent


def _botocore_signed(service: str, region: str, method: str, params: dict[str, Any], ours: dict[str, Any]) -> Any:
    """botocore's signature of our request (headers, body) at botocore's own URL for the same call."""
    (theirs,), _ = botocore_call(service, method, params, region=region)
    headers = {k: v for k, v in ours["headers"].items() if k.lower() not in (*SIGNATURE_HEADERS, "content-length")}
    query = [pair for pair in theirs.query if pair != ("encoding-type", "url")]  # see test_aws_wire_serialize.py
    request = AWSRequest(
        theirs.method, f"https://{theirs.host}{theirs.path}", headers=headers, data=ours["body"], params=query
    )
    frozen = botocore.credentials.Credentials(ours["keys"].access_key, ours["keys"].secret_key, ours["keys"].token)
    signer = botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth
    signer(frozen, ours["endpoint"].service, ours["endpoint"].region).add_auth(request)
    return theirs, request


@pytest.mark.parametrize("keys", [KEYS, TEMPORARY], ids=["keys", "session-token"])
@pytest.mark.parametrize(("service", "region", "method", "params"), CASES, ids=[f"{c[0]}.{c[2]}" for c in CASES])
def test_our_signature_is_botocores(
    wire: list[dict[str, Any]], keys: Credentials, service: str, region: str, method: str, params: dict[str, Any]
) -> None:
    getattr(our_client(service, region, keys), method)(**params)
    (ours,) = wire
    ours["keys"] = keys
    theirs, signed = _botocore_signed(service, region, method, params, ours)
    url = urlsplit(ours["target"])
    assert (ours["method"], ours["headers"]["Host"], url.path) == (theirs.method, theirs.host, theirs.path)
    assert sorted(parse_qsl(url.query, keep_blank_values=True)) == [p for p in theirs.query if p[0] != "encoding-type"]
    mine = {k.lower(): v for k, v in ours["headers"].items() if k.lower() in SIGNATURE_HEADERS}
    reference = {k.lower(): v for k, v in signed.headers.items() if k.lower() in SIGNATURE_HEADERS}
    assert mine == {k: v.decode() if isinstance(v, bytes) else v for k, v in reference.items()}
    assert ("x-amz-security-token" in mine) == (keys.token is not None)
    assert ("x-amz-content-sha256" in mine) == (service == "s3")
    assert (
        f"Credential={keys.access_key}/20260304/{ours['endpoint'].region}/{service}/aws4_request"
        in mine["authorization"]
    )
    assert ours["headers"]["Content-Length"] == str(len(ours["body"]))


def test_the_signature_of_aws_s_own_example() -> None:
    """AWS's SigV4 test suite, get-vanilla: a signature that does not come from botocore either."""
    added = sign(
        method="GET",
        path="/",
        query=[],
        headers={"Host": "example.amazonaws.com"},
        payload_hash="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        credentials=KEYS,
        region="us-east-1",
        service="service",
        now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC),
    )
    assert added == {
        "X-Amz-Date": "20150830T123600Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    }


@pytest.mark.parametrize("s3", [False, True], ids=["sigv4", "s3"])
def test_header_values_are_trimmed_and_the_path_and_query_encoded_as_botocore_does(
    monkeypatch: pytest.MonkeyPatch, s3: bool
) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: NOW.replace(tzinfo=None))
    headers = {"Host": "h.example", "X-Custom": "  a   b\tc  ", "User-Agent": "not signed", "Content-Type": "x/y"}
    path, query = "/a%20b/c%2Bd/~e/%C3%A9", [("b", "2 3"), ("a", "*"), ("a", "")]
    payload = hashlib.sha256(b"data").hexdigest()
    added = sign(
        method="PUT",
        path=path,
        query=query,
        headers={**headers, **({"X-Amz-Content-SHA256": payload} if s3 else {})},
        payload_hash=payload,
        credentials=TEMPORARY,
        region="eu-west-1",
        service="s3" if s3 else "kms",
        now=NOW,
        double_encode=not s3,
    )
    request = AWSRequest("PUT", f"https://h.example{path}", headers=headers, data=b"data", params=query)
    frozen = botocore.credentials.Credentials(TEMPORARY.access_key, TEMPORARY.secret_key, TEMPORARY.token)
    if s3:
        botocore.auth.S3SigV4Auth(frozen, "s3", "eu-west-1").add_auth(request)
    else:
        botocore.auth.SigV4Auth(frozen, "kms", "eu-west-1").add_auth(request)
    assert added["Authorization"] == request.headers["Authorization"]
    assert "user-agent" not in added["Authorization"]
