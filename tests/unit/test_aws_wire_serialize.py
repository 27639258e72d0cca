"""What acmevault's AWS client sends for each operation it offers is what botocore sends for the same call.

Every method of the wire clients (json_protocol's and query_protocol's SERVICES, route53.py, s3.py) is
called with arguments like the adapters pass (adapters/aws/*.py), through our client (recorded by a
transport hook) and through a real botocore client (stopped before the network): the same method, host,
path and query; the same JSON document, form fields or XML tree; every header we send sent by botocore
with the same value, and every header botocore sends that we do not is one that does not change what
AWS does (botocore's own identification and checksums, and the signature, compared in
test_aws_wire_signing.py).
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ElementTree
from typing import Any
from urllib.parse import parse_qsl

import pytest
from acmevault.adapters.aws.wire import json_protocol, query_protocol, transport

from tests.unit.aws_wire_reference import Sent, answering, botocore_call, isolate, model, our_call, our_client

# Headers botocore sends that ours need not: its identification, retry bookkeeping and signature (signed by
# our transport), the body's length (sent by our transport), and S3's optional body checksums (the body is
# signed with its SHA-256 instead).
BOTOCORE_ONLY = {
    "user-agent",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "x-amz-date",
    "authorization",
    "content-length",
    "x-amz-content-sha256",
    "expect",
}
# botocore asks S3 for URL-encoded keys in listings (and decodes them again), ours for XML-escaped ones:
# either way the answer's keys are the keys (test_aws_wire_parse.py gives each the answer S3 gives it).
BOTOCORE_ONLY_QUERY = {("encoding-type", "url")}
TABLE = "acmevault-certificates"
CERT_KEY = {"pk": {"S": "CERT"}, "sk": {"S": "www.example.com"}}
ITEM = {
    **CERT_KEY,
    "n": {"N": "12.50"},
    "b": {"B": b"\x00\x01\xfe\xff"},
    "bs": {"BS": [b"\x01", b"\x02\x03"]},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "m": {"M": {"inner": {"B": b"\xff"}, "l": {"L": [{"S": "x"}, {"NULL": True}, {"BOOL": False}]}}},
}
SECRET = "acmevault/directories/letsencrypt"
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-1234567890ab"
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\xc3\xa9\n-----END CERTIFICATE-----\n"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/acmevault-issue"
BATCH = {
    "Comment": "acmevault dns-01",
    "Changes": [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": "_acme-challenge.www.example.com.",
                "Type": "TXT",
                "TTL": 60,
                "ResourceRecords": [{"Value": '"tok-1_&<>"'}, {"Value": '"tok-2"'}],
            },
        },
        {
            "Action": "DELETE",
            "ResourceRecordSet": {
                "Name": "_acme-challenge.example.com.",
                "Type": "TXT",
                "TTL": 60,
                "ResourceRecords": [{"Value": '"x"'}],
            },
        },
    ],
}
KEY = "certificates/www example.com/a+b~c/ünï çødé/privkey.pem"

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("dynamodb", "get_item", {"TableName": TABLE, "Key": CERT_KEY, "ConsistentRead": True}),
    (
        "dynamodb",
        "get_item",
        {
            "TableName": TABLE,
            "Key": CERT_KEY,
            "ProjectionExpression": "#s, changed_at",
            "ExpressionAttributeNames": {"#s": "status"},
        },
    ),
    (
        "dynamodb",
        "put_item",
        {
            "TableName": TABLE,
            "Item": ITEM,
            "ConditionExpression": "attribute_not_exists(#id) OR #expiry < :now",
            "ExpressionAttributeNames": {"#id": "pk", "#expiry": "expiration"},
            "ExpressionAttributeValues": {":now": {"N": "1700000000"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    ),
    (
        "dynamodb",
        "update_item",
        {
            "TableName": TABLE,
            "Key": CERT_KEY,
            "UpdateExpression": "SET #r = :r REMOVE lease_owner",
            "ConditionExpression": "attribute_not_exists(#r) OR #r.#token = :token",
            "ExpressionAttributeNames": {"#r": "rotation", "#token": "token"},
            "ExpressionAttributeValues": {":r": {"M": {"b": {"B": b"k"}}}, ":token": {"S": "t"}},
            "ReturnValues": "ALL_NEW",
        },
    ),
    ("dynamodb", "delete_item", {"TableName": TABLE, "Key": CERT_KEY, "ConditionExpression": "attribute_exists(pk)"}),
    (
        "dynamodb",
        "query",
        {
            "TableName": TABLE,
            "IndexName": "due",
            "KeyConditionExpression": "due_pk = :shard AND renew_at <= :now",
            "ExpressionAttributeValues": {":shard": {"S": "DUE#3"}, ":now": {"S": "2026-01-01T00:00:00+00:00"}},
            "ProjectionExpression": "sk",
            "ScanIndexForward": False,
            "Limit": 50,
            "ConsistentRead": False,
            "ExclusiveStartKey": CERT_KEY,
        },
    ),
    ("secretsmanager", "get_secret_value", {"SecretId": SECRET, "VersionStage": "AWSCURRENT"}),
    ("secretsmanager", "get_secret_value", {"SecretId": SECRET, "VersionId": "0f1e2d3c-0000-4000-8000-000000000001"}),
    (
        "secretsmanager",
        "create_secret",
        {
            "Name": SECRET,
            "SecretString": json.dumps({"key": 'é\n"x"'}),
            "Description": "acmevault ACME directory credential letsencrypt",
            "Tags": [{"Key": "acmevault:directory", "Value": "letsencrypt"}],
            "KmsKeyId": "alias/acmevault",
        },
    ),
    ("secretsmanager", "list_secrets", {"Filters": [{"Key": "name", "Values": ["acmevault/directories/"]}]}),
    ("secretsmanager", "list_secrets", {"Filters": [{"Key": "name", "Values": ["p/"]}], "NextToken": "t+/="}),
    ("secretsmanager", "describe_secret", {"SecretId": SECRET}),
    (
        "secretsmanager",
        "put_secret_value",
        {
            "SecretId": SECRET,
            "ClientRequestToken": "0f1e2d3c-0000-4000-8000-000000000002",
            "SecretString": "{}",
            "VersionStages": ["AWSPENDING"],
        },
    ),
    (
        "secretsmanager",
        "update_secret_version_stage",
        {
            "SecretId": SECRET,
            "VersionStage": "AWSCURRENT",
            "MoveToVersionId": "0f1e2d3c-0000-4000-8000-000000000002",
            "RemoveFromVersionId": "0f1e2d3c-0000-4000-8000-000000000001",
        },
    ),
    (
        "secretsmanager",
        "rotate_secret",
        {
            "SecretId": SECRET,
            "RotationLambdaARN": "arn:aws:lambda:us-east-1:123456789012:function:acmevault-rotate",
            "RotationRules": {"ScheduleExpression": "rate(30 days)"},
            "RotateImmediately": False,
        },
    ),
    (
        "acm",
        "import_certificate",
        {
            "Certificate": PEM,
            "PrivateKey": b"key",
            "CertificateChain": PEM + PEM,
            "Tags": [{"Key": "acmevault:certificate", "Value": "www"}, {"Key": "acmevault:stack", "Value": "s"}],
        },
    ),
    (
        "acm",
        "import_certificate",
        {"CertificateArn": ARN, "Certificate": PEM, "PrivateKey": b"k", "CertificateChain": PEM},
    ),
    ("acm", "add_tags_to_certificate", {"CertificateArn": ARN, "Tags": [{"Key": "acmevault:revoked", "Value": "x"}]}),
    ("acm", "remove_tags_from_certificate", {"CertificateArn": ARN, "Tags": [{"Key": "acmevault:revoked"}]}),
    ("acm", "delete_certificate", {"CertificateArn": ARN}),
    (
        "kms",
        "encrypt",
        {"KeyId": "alias/acmevault", "Plaintext": b"-----BEGIN", "EncryptionContext": {"acmevault:certificate": "w"}},
    ),
    ("kms", "decrypt", {"CiphertextBlob": bytes(range(256)), "EncryptionContext": {"acmevault:certificate": "w"}}),
    (
        "events",
        "put_events",
        {
            "Entries": [
                {"Source": "acmevault", "DetailType": "issued", "Detail": '{"a": "é"}', "EventBusName": "default"}
            ]
        },
    ),
    ("sqs", "send_message", {"QueueUrl": QUEUE, "MessageBody": '{"name": "w"}', "DelaySeconds": 900}),
    (
        "sqs",
        "send_message_batch",
        {"QueueUrl": QUEUE, "Entries": [{"Id": str(i), "MessageBody": f'{{"n": {i}}}'} for i in range(3)]},
    ),
    (
        "sts",
        "assume_role",
        {"RoleArn": "arn:aws:iam::210987654321:role/acmevault-dns01", "RoleSessionName": "acmevault"},
    ),
    ("sts", "get_caller_identity", {}),
    (
        "sns",
        "publish",
        {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Subject": "acmevault: é&=+", "Message": "a\nb é&=+%"},
    ),
    ("cloudformation", "describe_stacks", {"StackName": "acmevault"}),
    ("route53", "list_hosted_zones", {}),
    ("route53", "list_hosted_zones", {"Marker": "Z0+/NEXT", "MaxItems": "100"}),
    (
        "route53",
        "list_resource_record_sets",
        {
            "HostedZoneId": "/hostedzone/Z0123",
            "StartRecordName": "_acme-challenge.*.example.com.",
            "StartRecordType": "CAA",
            "MaxItems": "1",
        },
    ),
    ("route53", "list_resource_record_sets", {"HostedZoneId": "Z0123", "StartRecordName": "é+ x.example."}),
    ("route53", "change_resource_record_sets", {"HostedZoneId": "/hostedzone/Z0123", "ChangeBatch": BATCH}),
    ("route53", "change_resource_record_sets", {"HostedZoneId": "Z0123", "ChangeBatch": {"Changes": BATCH["Changes"]}}),
    ("route53", "get_change", {"Id": "/change/C2682N5HXP0BZ4"}),
    ("route53", "get_change", {"Id": "C2682N5HXP0BZ4"}),
    (
        "s3",
        "put_object",
        {
            "Bucket": "acmevault-certs",
            "Key": KEY,
            "Body": b"-----BEGIN PRIVATE-----",
            "ContentType": "application/x-pem-file",
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": "arn:aws:kms:eu-west-1:1:key/k",
        },
    ),
    ("s3", "put_object", {"Bucket": "acme.vault", "Key": "a/b", "Body": b"{}", "ContentType": "application/json"}),
    ("s3", "get_object", {"Bucket": "acmevault-certs", "Key": KEY}),
    ("s3", "get_object", {"Bucket": "acmevault-certs", "Key": "k", "VersionId": "3/L4kqtJl+cGh=u"}),
    ("s3", "list_object_versions", {"Bucket": "acmevault-certs", "Prefix": KEY}),
    (
        "s3",
        "list_object_versions",
        {"Bucket": "acmevault-certs", "Prefix": "p", "KeyMarker": "p a", "VersionIdMarker": "v+1"},
    ),
]
XML_ANSWER = (
    b'<?xml version="1.0"?><Answer><ChangeInfo><Id>/change/C1</Id><Status>PENDING</Status>'
    b"<SubmittedAt>2026-01-01T00:00:00.000Z</SubmittedAt></ChangeInfo></Answer>"
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch)


def _region(service: str) -> str:
    # S3 in us-east-1: botocore uses the legacy global name s3.amazonaws.com, ours the regional one (both AWS's,
    # see test_aws_wire_endpoints.py); elsewhere both use the same host, which is what is compared here.
    return "eu-west-1" if service == "s3" else "us-east-1"


def _tree(body: bytes) -> Any:
    """An XML document as (tag without namespace, text, children): namespaces and layout do not count."""

    def node(element: ElementTree.Element) -> Any:
        return (element.tag.rsplit("}", 1)[-1], (element.text or "").strip(), [node(c) for c in element])

    return node(ElementTree.fromstring(body))  # noqa: S314 - our own test documents


def _tokens(service: str, operation: str) -> set[str]:
    """The members botocore fills with a fresh UUID when the caller leaves them out (idempotency tokens)."""
    shape = model(service).operation_model(operation).input_shape
    return {n for n, m in shape.members.items() if m.metadata.get("idempotencyToken")} if shape else set()


def _operation(service: str, method: str) -> str:
    return str(model(service).operation_names[[_snake(n) for n in model(service).operation_names].index(method)])


def _snake(name: str) -> str:
    from botocore import xform_name

    return str(xform_name(name))


def _body(service: str, operation: str, ours: Sent, theirs: Sent) -> tuple[Any, Any]:
    protocol = model(service).protocol
    if protocol == "json":
        mine, reference = json.loads(ours.body), json.loads(theirs.body)
        for name in _tokens(service, operation):  # random on both sides: present, a UUID, then set aside
            assert uuid.UUID(mine.pop(name, "")) and uuid.UUID(reference.pop(name)), name
        return mine, reference
    if protocol == "query":
        return sorted(parse_qsl(ours.body.decode(), True)), sorted(parse_qsl(theirs.body.decode(), True))
    if ours.body.startswith(b"<") or theirs.body.startswith(b"<"):
        return _tree(ours.body), _tree(theirs.body)
    return ours.body, theirs.body


def _answer(service: str) -> transport.Response:
    return transport.Response(200, {}, b"{}" if model(service).protocol == "json" else XML_ANSWER)


@pytest.mark.parametrize(("service", "method", "params"), CASES, ids=[f"{s}.{m}" for s, m, _ in CASES])
def test_our_request_is_botocores(service: str, method: str, params: dict[str, Any]) -> None:
    region = _region(service)
    (theirs,), _ = botocore_call(service, method, params, region=region)
    (ours,), _ = our_call(service, method, params, _answer(service), region=region)
    query = [pair for pair in theirs.query if pair not in BOTOCORE_ONLY_QUERY]
    assert (ours.method, ours.host, ours.path, ours.query) == (theirs.method, theirs.host, theirs.path, query)
    mine, reference = _body(service, _operation(service, method), ours, theirs)
    assert mine == reference
    assert {k: v for k, v in theirs.headers.items() if k in ours.headers} == ours.headers
    assert set(theirs.headers) - set(ours.headers) <= BOTOCORE_ONLY


def test_every_offered_method_is_covered() -> None:
    offered = {(s, m) for s, (_, _, methods, _) in json_protocol.SERVICES.items() for m in methods}
    offered |= {(s, m) for s, (_, methods) in query_protocol.SERVICES.items() for m in methods}
    offered |= {("route53", m) for m in ("list_hosted_zones", "list_resource_record_sets")}
    offered |= {("route53", m) for m in ("change_resource_record_sets", "get_change")}
    offered |= {("s3", m) for m in ("put_object", "get_object", "list_object_versions")}
    assert offered == {(s, m) for s, m, _ in CASES}
    for service, method in offered:  # and each is botocore's name for one of the service's operations
        assert _snake(_operation(service, method)) == method


@pytest.mark.parametrize(
    ("service", "method", "params"),
    [(s, m, p) for s, m, p in CASES if _tokens(s, _operation(s, m))],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_an_idempotency_token_left_out_is_made_once_per_call_and_kept_across_retries(
    service: str, method: str, params: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport, "_backoff", lambda attempt: None)
    (token,) = _tokens(service, _operation(service, method))
    params = {k: v for k, v in params.items() if k != token}
    throttled = transport.Response(400, {}, b'{"__type":"ThrottlingException","message":"slow down"}')
    answers = [throttled, _answer(service)]
    with answering(lambda endpoint, request, attempt: answers[attempt - 1]) as seen:
        client = our_client(service)
        for _ in range(2):
            getattr(client, method)(**params)
    tokens = [json.loads(request.body)[token] for _, request, _ in seen]
    assert [attempt for _, _, attempt in seen] == [1, 2, 1, 2]
    assert tokens[0] == tokens[1] != tokens[2] == tokens[3]
    assert all(uuid.UUID(t) for t in tokens)
