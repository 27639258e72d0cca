"""AWS's error answers raise what botocore raises for them: a ClientError with the same code and message.

Each error answer, as the service documents it, is given to our client and to a real botocore client
(one attempt each: retries are test_aws_wire_transport.py's), for every protocol: JSON (``__type`` with
and without its namespace, SQS's query-compatible code in ``x-amzn-query-error``), query
(``ErrorResponse``), Route 53 (``ErrorResponse``) and S3 (``Error``, and an answer without a body), and
answers that are not AWS's (a load balancer's HTML page, an empty 5xx).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from acmevault.adapters.aws.wire import transport
from acmevault.adapters.aws.wire.transport import AwsClientError, Response
from botocore.exceptions import ClientError

from tests.unit.aws_wire_reference import botocore_call, isolate, our_call

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/acmevault-issue"
TABLE_KEY = {"TableName": "t", "Key": {"pk": {"S": "CERT"}}}
CHANGE = {
    "HostedZoneId": "Z0PARTNER",
    "ChangeBatch": {"Changes": [{"Action": "DELETE", "ResourceRecordSet": {"Name": "a.", "Type": "TXT", "TTL": 60}}]},
}


def query_error(code: str, message: str, namespace: str = "https://sts.amazonaws.com/doc/2011-06-15/") -> bytes:
    return (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>4442587FB7D0A2F9</RequestId></ErrorResponse>"
    ).encode()


def s3_error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        "<Key>certificates/www/cert.pem</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>h</HostId></Error>"
    ).encode()


def dynamodb_error(code: str, message: str) -> bytes:
    return json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}).encode()


CASES: list[tuple[str, str, str, dict[str, Any], Response]] = [
    (
        "dynamodb-namespaced",
        "dynamodb",
        "get_item",
        TABLE_KEY,
        Response(400, {}, dynamodb_error("ResourceNotFoundException", "Requested resource not found")),
    ),
    (
        "secretsmanager-plain-type",
        "secretsmanager",
        "get_secret_value",
        {"SecretId": "acmevault/directories/x"},
        Response(
            400,
            {"x-amzn-requestid": "r-1"},
            b'{"__type":"ResourceNotFoundException","Message":"Secrets Manager can\'t find the specified secret."}',
        ),
    ),
    (
        "kms-message",
        "kms",
        "decrypt",
        {"CiphertextBlob": b"x"},
        Response(400, {}, b'{"__type":"InvalidCiphertextException","message":"Ciphertext refers to a different key"}'),
    ),
    (
        "acm-in-use",
        "acm",
        "delete_certificate",
        {"CertificateArn": "arn:aws:acm:us-east-1:1:certificate/c"},
        Response(400, {}, b'{"__type":"ResourceInUseException","message":"Certificate arn is in use"}'),
    ),
    (
        "sqs-query-compatible",
        "sqs",
        "send_message",
        {"QueueUrl": QUEUE, "MessageBody": "m"},
        Response(
            400,
            {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
            b'{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}',
        ),
    ),
    (
        "sts-access-denied",
        "sts",
        "assume_role",
        {"RoleArn": "arn:aws:iam::210987654321:role/acmevault-dns01", "RoleSessionName": "acmevault"},
        Response(403, {}, query_error("AccessDenied", "User: arn:aws:iam::1:user/x is not authorized &amp; so")),
    ),
    (
        "cloudformation-no-stack",
        "cloudformation",
        "describe_stacks",
        {"StackName": "acmevault"},
        Response(
            400,
            {},
            query_error(
                "ValidationError",
                "Stack with id acmevault does not exist",
                "http://cloudformation.amazonaws.com/doc/2010-05-15/",
            ),
        ),
    ),
    (
        "sns-not-found",
        "sns",
        "publish",
        {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "m"},
        Response(404, {}, query_error("NotFound", "Topic does not exist", "http://sns.amazonaws.com/doc/2010-03-31/")),
    ),
    (
        "route53-no-zone",
        "route53",
        "change_resource_record_sets",
        CHANGE,
        Response(
            404,
            {},
            b'<?xml version="1.0"?>\n'
            + query_error(
                "NoSuchHostedZone",
                "No hosted zone found with ID: Z0PARTNER",
                "https://route53.amazonaws.com/doc/2013-04-01/",
            ),
        ),
    ),
    (
        "route53-invalid-batch",
        "route53",
        "change_resource_record_sets",
        CHANGE,
        Response(
            400,
            {},
            query_error(
                "InvalidChangeBatch",
                "[Tried to delete resource record set [name='a.', type='TXT'] but it was not found]",
                "https://route53.amazonaws.com/doc/2013-04-01/",
            ),
        ),
    ),
    (
        "s3-no-such-key",
        "s3",
        "get_object",
        {"Bucket": "acmevault-certs", "Key": "certificates/www/cert.pem"},
        Response(
            404, {"x-amz-request-id": "4442587FB7D0A2F9"}, s3_error("NoSuchKey", "The specified key does not exist.")
        ),
    ),
    (
        "s3-404-without-body",
        "s3",
        "get_object",
        {"Bucket": "acmevault-certs", "Key": "certificates/www/cert.pem"},
        Response(404, {}, b""),
    ),
    (
        "s3-403-without-body",
        "s3",
        "list_object_versions",
        {"Bucket": "acmevault-certs", "Prefix": "p"},
        Response(403, {}, b""),
    ),
    (
        "s3-access-denied",
        "s3",
        "put_object",
        {"Bucket": "acmevault-certs", "Key": "k", "Body": b"x"},
        Response(403, {}, s3_error("AccessDenied", "Access Denied")),
    ),
    (
        "json-load-balancer-html",
        "dynamodb",
        "get_item",
        TABLE_KEY,
        Response(503, {}, b"<html><body><b>Http/1.1 Service Unavailable</b></body></html>"),
    ),
    ("json-empty-5xx", "events", "put_events", {"Entries": [{"Source": "acmevault"}]}, Response(502, {}, b"")),
    (
        "query-empty-5xx",
        "sns",
        "publish",
        {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "m"},
        Response(500, {}, b""),
    ),
    ("route53-html-5xx", "route53", "get_change", {"Id": "C1"}, Response(504, {}, b"<html>Gateway Timeout</html>")),
]


@pytest.fixture(autouse=True)
def _no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch)
    monkeypatch.setattr(transport, "MAX_ATTEMPTS", 1)  # botocore's client here makes one attempt too


@pytest.mark.parametrize(("service", "method", "params", "answer"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_an_error_answer_raises_botocores_error(
    service: str, method: str, params: dict[str, Any], answer: Response
) -> None:
    region = "eu-west-1" if service == "s3" else "us-east-1"
    _, ours = our_call(service, method, params, answer, region=region)
    _, theirs = botocore_call(service, method, params, answer, region=region)
    assert isinstance(ours, AwsClientError) and isinstance(theirs, ClientError)
    assert ours.operation_name == theirs.operation_name
    assert ours.response["Error"]["Code"] == theirs.response["Error"]["Code"]
    assert ours.response["Error"]["Message"] == theirs.response["Error"]["Message"]
    # (the request id is read from the headers only: botocore also reads it from an XML error's body)
    assert ours.response["ResponseMetadata"]["HTTPStatusCode"] == theirs.response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_failed_condition_carries_the_item_decoded_as_botocore_puts_it() -> None:
    """What Powertools' idempotency reads: the item that failed the condition (ReturnValuesOnConditionCheckFailure)."""
    item = {"pk": {"S": "IDEMPOTENCY"}, "data": {"B": base64.b64encode(b"\x00\x01").decode()}, "n": {"N": "1"}}
    body = json.loads(dynamodb_error("ConditionalCheckFailedException", "The conditional request failed"))
    params = {
        "TableName": "t",
        "Item": {"pk": {"S": "IDEMPOTENCY"}},
        "ConditionExpression": "attribute_not_exists(pk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    answer = Response(400, {}, json.dumps({**body, "Item": item}).encode())
    _, ours = our_call("dynamodb", "put_item", params, answer)
    _, theirs = botocore_call("dynamodb", "put_item", params, answer)
    assert ours.response["Error"] == {k: theirs.response["Error"][k] for k in ("Code", "Message")}
    assert ours.response["Item"] == theirs.response["Item"]
    assert ours.response["Item"]["data"] == {"B": b"\x00\x01"}
    answer = Response(400, {}, json.dumps(body).encode())  # no Item asked for: none
    assert "Item" not in our_call("dynamodb", "put_item", params, answer)[1].response
