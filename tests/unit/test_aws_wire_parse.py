"""What acmevault's AWS client returns for AWS's answers is what botocore returns for them.

Each answer is given, as AWS documents it, to our client (through a transport hook) and to a real
botocore client (at its before-send event): the fields the adapters read come back the same, with the
same types (bytes, datetimes, booleans, integers, lists of one). For the JSON services every member of
every offered operation's answer is compared, from documents made from botocore's own models.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any
from urllib.parse import quote_plus

import botocore.parsers
import pytest
from acmevault.adapters.aws.wire import json_protocol
from acmevault.adapters.aws.wire.transport import Response

from tests.unit.aws_wire_reference import botocore_call, isolate, model, our_call

R53 = 'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"'


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch)


def both(
    service: str, method: str, params: dict[str, Any], answer: Response | list[Response], **kwargs: Any
) -> tuple[Any, Any]:
    """Our answer and botocore's to the same call and AWS answer (ResponseMetadata set aside)."""
    _, ours = our_call(service, method, params, answer, **kwargs)
    _, theirs = botocore_call(service, method, params, answer, **kwargs)
    for found in (ours, theirs):
        if isinstance(found, dict):
            found.pop("ResponseMetadata", None)
    return ours, theirs


def ok(body: str | bytes, **headers: str) -> Response:
    return Response(200, headers, body.encode() if isinstance(body, str) else body)


# -- JSON: every member of every answer, from botocore's models ----------------------------------------------


def _sample(shape: Any, counter: Any, depth: int = 0) -> Any:
    """A JSON answer with every member of ``shape`` (one member of a union, in turn)."""
    kind = shape.type_name
    if kind == "structure":
        members = list(shape.members.items())
        if shape.is_tagged_union or shape.name == "AttributeValue":  # DynamoDB's has one member, unmodelled
            name, member = members[next(counter) % len(members)]
            return {name: _sample(member, counter, depth + 1) if depth < 6 else "1"}
        return {name: _sample(member, counter, depth + 1) for name, member in members} if depth < 6 else {}
    if kind == "list":
        return [_sample(shape.member, counter, depth + 1) for _ in range(2)] if depth < 6 else []
    if kind == "map":
        return {f"k{i}": _sample(shape.value, counter, depth + 1) for i in range(3)} if depth < 6 else {}
    return {
        "string": (getattr(shape, "enum", None) and shape.enum[0]) or "text é",
        "integer": 7,
        "long": 7,
        "boolean": True,
        "double": 1.5,
        "float": 1.5,
        "blob": base64.b64encode(b"\x00bytes\xff").decode(),
        "timestamp": 1523477145.713,
    }[kind]


JSON_OPERATIONS = [(s, m, o) for s, (_, _, methods, _) in json_protocol.SERVICES.items() for m, o in methods.items()]


@pytest.mark.parametrize(
    ("service", "method", "operation"), JSON_OPERATIONS, ids=[f"{s}.{m}" for s, m, _ in JSON_OPERATIONS]
)
def test_every_member_of_a_json_answer_is_botocores(service: str, method: str, operation: str) -> None:
    shape = model(service).operation_model(operation).output_shape
    body = json.dumps(_sample(shape, itertools.count()) if shape else {}).encode()
    _, ours = our_call(service, method, {}, ok(body))
    theirs = botocore.parsers.create_parser("json").parse({"status_code": 200, "headers": {}, "body": body}, shape)
    theirs.pop("ResponseMetadata")
    assert ours == theirs


def test_dynamodb_values_binary_sets_maps_and_lists() -> None:
    b64 = base64.b64encode
    item = {
        "pk": {"S": "CERT"},
        "b": {"B": b64(b"\x00\xff").decode()},
        "bs": {"BS": [b64(b"a").decode(), b64(b"\x01").decode()]},
        "m": {"M": {"b": {"B": b64(b"in map").decode()}, "n": {"N": "1.50"}, "nul": {"NULL": True}}},
        "l": {"L": [{"B": b64(b"in list").decode()}, {"BOOL": False}, {"SS": ["x"]}, {"NS": ["1"]}]},
    }
    params = {"TableName": "t", "Key": {"pk": {"S": "CERT"}}}
    ours, theirs = both("dynamodb", "get_item", params, ok(json.dumps({"Item": item})))
    assert ours == theirs
    assert ours["Item"]["m"]["M"]["b"]["B"] == b"in map" and ours["Item"]["bs"]["BS"] == [b"a", b"\x01"]
    assert both("dynamodb", "get_item", params, ok("{}")) == ({}, {})


def test_kms_blobs_are_bytes() -> None:
    answer = {"CiphertextBlob": base64.b64encode(bytes(range(256))).decode(), "KeyId": "arn:aws:kms:k"}
    ours, theirs = both("kms", "encrypt", {"KeyId": "k", "Plaintext": b"p"}, ok(json.dumps(answer)))
    assert ours == theirs and ours["CiphertextBlob"] == bytes(range(256))


def test_secrets_manager_dates_are_datetimes() -> None:
    answer = {"ARN": "arn", "Name": "n", "VersionId": "v", "SecretString": "{}", "CreatedDate": 1.523477145713e9}
    ours, theirs = both("secretsmanager", "get_secret_value", {"SecretId": "n"}, ok(json.dumps(answer)))
    assert ours == theirs and ours["CreatedDate"].isoformat() == "2018-04-11T20:05:45.713000+00:00"


# -- query: STS, SNS, CloudFormation -------------------------------------------------------------------


ASSUMED = """<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <SourceIdentity>Alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQW</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"""


def test_sts_assume_role_credentials_and_their_expiry() -> None:
    params = {"RoleArn": "arn:aws:iam::123456789012:role/demo", "RoleSessionName": "acmevault"}
    ours, theirs = both("sts", "assume_role", params, ok(ASSUMED))
    assert ours["Credentials"] == theirs["Credentials"]
    assert ours["AssumedRoleUser"] == theirs["AssumedRoleUser"]
    assert ours["Credentials"]["Expiration"].timestamp() == 1573306481


def test_sts_caller_identity_and_sns_message_id() -> None:
    identity = (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
        "<Arn>arn:aws:iam::123456789012:user/Alice</Arn><UserId>AKIAI44QH8DHBEXAMPLE</UserId>"
        "<Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>"
    )
    ours, theirs = both("sts", "get_caller_identity", {}, ok(identity))
    assert ours == theirs and ours["Account"] == "123456789012"
    published = (
        '<PublishResponse xmlns="https://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
        "<MessageId>567910cd-659e-55d4-8ccb-5aaf14679dc0</MessageId></PublishResult></PublishResponse>"
    )
    ours, theirs = both("sns", "publish", {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "m"}, ok(published))
    assert ours == theirs == {"MessageId": "567910cd-659e-55d4-8ccb-5aaf14679dc0"}


def _stacks(outputs: int) -> str:
    members = "".join(
        f"<member><OutputKey>Key{i}</OutputKey><OutputValue>value {i} &amp; é</OutputValue>"
        f"<Description>d{i}</Description></member>"
        for i in range(outputs)
    )
    return (
        '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult>'
        "<Stacks><member><StackName>acmevault</StackName>"
        "<StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/acmevault/aaf549a0</StackId>"
        "<CreationTime>2010-07-27T22:28:28Z</CreationTime><StackStatus>UPDATE_COMPLETE</StackStatus>"
        f"<DisableRollback>false</DisableRollback>{f'<Outputs>{members}</Outputs>' if outputs else ''}"
        "</member></Stacks></DescribeStacksResult></DescribeStacksResponse>"
    )


@pytest.mark.parametrize("outputs", [0, 1, 2])
def test_cloudformation_stack_outputs(outputs: int) -> None:
    ours, theirs = both("cloudformation", "describe_stacks", {"StackName": "acmevault"}, ok(_stacks(outputs)))
    read = ("StackName", "StackId", "StackStatus")
    assert [({k: s[k] for k in read}, s.get("Outputs", [])) for s in ours["Stacks"]] == [
        ({k: s[k] for k in read}, s.get("Outputs", [])) for s in theirs["Stacks"]
    ]
    assert len(ours["Stacks"][0].get("Outputs", [])) == outputs


# -- Route 53 ------------------------------------------------------------------------------------------


def _zones(count: int, truncated: bool) -> str:
    zones = "".join(
        f"<HostedZone><Id>/hostedzone/Z{i}EXAMPLE</Id><Name>zone{i}.example.com.</Name>"
        f"<CallerReference>ref-{i}</CallerReference><Config><Comment>c{i}</Comment>"
        f"<PrivateZone>{'true' if i % 2 else 'false'}</PrivateZone></Config>"
        f"<ResourceRecordSetCount>{i + 2}</ResourceRecordSetCount></HostedZone>"
        for i in range(count)
    )
    more = (
        "<IsTruncated>true</IsTruncated><NextMarker>Z9NEXT</NextMarker>"
        if truncated
        else "<IsTruncated>false</IsTruncated>"
    )
    return (
        f"<ListHostedZonesResponse {R53}><HostedZones>{zones}</HostedZones><Marker/>{more}"
        "<MaxItems>100</MaxItems></ListHostedZonesResponse>"
    )


@pytest.mark.parametrize(("count", "truncated"), [(0, False), (1, False), (2, True)])
def test_route53_hosted_zones(count: int, truncated: bool) -> None:
    ours, theirs = both("route53", "list_hosted_zones", {}, ok(_zones(count, truncated)))
    read = ("HostedZones", "IsTruncated", "NextMarker", "MaxItems", "Marker")
    assert {k: ours.get(k) for k in read} == {k: theirs.get(k) for k in read}
    assert len(ours["HostedZones"]) == count


def test_route53_hosted_zone_pages_are_followed_as_botocore_follows_them() -> None:
    pages = [ok(_zones(2, True)), ok(_zones(1, False))]
    sent, ours = our_call("route53", "list_hosted_zones", {}, pages, paginate=True)
    sent_botocore, theirs = botocore_call("route53", "list_hosted_zones", {}, pages, paginate=True)
    assert [s.query for s in sent] == [s.query for s in sent_botocore] == [[], [("marker", "Z9NEXT")]]
    assert [p["HostedZones"] for p in ours] == [p["HostedZones"] for p in theirs]


RECORDS = f"""<?xml version="1.0" encoding="UTF-8"?>
<ListResourceRecordSetsResponse {R53}>
   <ResourceRecordSets>
      <ResourceRecordSet>
         <Name>example.com.</Name>
         <Type>CAA</Type>
         <TTL>300</TTL>
         <ResourceRecords>
            <ResourceRecord><Value>0 issue "letsencrypt.org"</Value></ResourceRecord>
         </ResourceRecords>
      </ResourceRecordSet>
      <ResourceRecordSet>
         <Name>\\052.example.com.</Name>
         <Type>TXT</Type>
         <TTL>60</TTL>
         <ResourceRecords>
            <ResourceRecord><Value>"a"</Value></ResourceRecord>
            <ResourceRecord><Value>"b &amp; c"</Value></ResourceRecord>
         </ResourceRecords>
      </ResourceRecordSet>
   </ResourceRecordSets>
   <IsTruncated>true</IsTruncated>
   <MaxItems>2</MaxItems>
   <NextRecordName>www.example.com.</NextRecordName>
   <NextRecordType>A</NextRecordType>
</ListResourceRecordSetsResponse>"""


def test_route53_record_sets() -> None:
    params = {"HostedZoneId": "Z1", "StartRecordName": "example.com.", "StartRecordType": "CAA", "MaxItems": "2"}
    ours, theirs = both("route53", "list_resource_record_sets", params, ok(RECORDS))
    read = ("ResourceRecordSets", "IsTruncated", "MaxItems", "NextRecordName", "NextRecordType")
    assert {k: ours[k] for k in read} == {k: theirs[k] for k in read}


@pytest.mark.parametrize("method", ["get_change", "change_resource_record_sets"])
def test_route53_change_info(method: str) -> None:
    answer = (
        f"<GetChangeResponse {R53}><ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>INSYNC</Status>"
        "<SubmittedAt>2017-03-10T01:36:41.958Z</SubmittedAt><Comment>acmevault dns-01</Comment></ChangeInfo>"
        "</GetChangeResponse>"
    )
    change = {"Action": "UPSERT", "ResourceRecordSet": {"Name": "a.", "Type": "TXT", "TTL": 60}}
    params = {"Id": "C1"} if method == "get_change" else {"HostedZoneId": "Z1", "ChangeBatch": {"Changes": [change]}}
    ours, theirs = both("route53", method, params, ok(answer))
    assert ours == theirs


# -- S3 ------------------------------------------------------------------------------------------------


def _versions(key: str, count: int, url_encoded: bool) -> str:
    """A ListVersionsResult as S3 writes it: keys URL-encoded when the request asked (botocore's), else not."""
    name = quote_plus(key, safe="/") if url_encoded else key.replace("&", "&amp;")
    versions = "".join(
        f"<Version><Key>{name}</Key><VersionId>v{i}+/=</VersionId><IsLatest>{'true' if i == 0 else 'false'}</IsLatest>"
        f"<LastModified>2009-10-1{i}T17:50:30.000Z</LastModified><ETag>&quot;fba9{i}&quot;</ETag><Size>43423{i}</Size>"
        "<StorageClass>STANDARD</StorageClass><Owner><ID>75aa57f0</ID><DisplayName>mtd</DisplayName></Owner></Version>"
        for i in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Name>acmevault-certs</Name><Prefix>{name}</Prefix><KeyMarker/><VersionIdMarker/><MaxKeys>1000</MaxKeys>"
        f"{'<EncodingType>url</EncodingType>' if url_encoded else ''}<IsTruncated>false</IsTruncated>{versions}"
        "</ListVersionsResult>"
    )


@pytest.mark.parametrize("count", [1, 2])
def test_s3_object_versions(count: int) -> None:
    key = "certificates/www example.com/a+b & c/privkey.pem"
    params = {"Bucket": "acmevault-certs", "Prefix": key}
    _, ours = our_call("s3", "list_object_versions", params, ok(_versions(key, count, False)), region="eu-west-1")
    _, theirs = botocore_call("s3", "list_object_versions", params, ok(_versions(key, count, True)), region="eu-west-1")
    assert ours["Versions"] == theirs["Versions"]
    assert (ours["IsTruncated"], ours["Prefix"]) == (theirs["IsTruncated"], theirs["Prefix"]) == (False, key)
    assert [v["LastModified"].day for v in ours["Versions"]] == list(range(10, 10 + count))


def test_s3_get_and_put_object() -> None:
    headers = {
        "etag": '"d41d8cd9"',
        "x-amz-version-id": "3/L4kqtJl+cGh=u",
        "content-type": "application/x-pem-file",
        "content-length": "11",
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:eu-west-1:1:key/k",
    }
    read = ("ETag", "VersionId", "ContentType", "ContentLength", "ServerSideEncryption", "SSEKMSKeyId")
    params = {"Bucket": "acmevault-certs", "Key": "a b/cert.pem"}
    ours, theirs = both("s3", "get_object", params, ok(b"-----BEGIN\n", **headers), region="eu-west-1")
    assert {k: ours[k] for k in read} == {k: theirs[k] for k in read}
    assert ours["Body"].read() == theirs["Body"].read() == b"-----BEGIN\n"
    put = {k: v for k, v in headers.items() if k not in ("content-type", "content-length")}
    ours, theirs = both("s3", "put_object", {**params, "Body": b"x"}, ok(b"", **put), region="eu-west-1")
    assert {k: ours.get(k) for k in read} == {k: theirs.get(k) for k in read}
