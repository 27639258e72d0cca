"""Our requests go where botocore's go, signed for the region botocore signs them for (wire/endpoints.py).

For each of the 11 services in four partitions' regions, and for the endpoints the environment names
(AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE_ID>, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS), as botocore reads
them. botocore's host and signing region are those of the request its client signs (stopped before the
network). S3's bucket hosts are compared in test_aws_wire_serialize.py: here its base endpoint.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from acmevault.adapters.aws.wire.endpoints import SERVICE_IDS, resolve
from botocore.config import Config

from tests.unit.aws_wire_reference import ACCESS_KEY, SECRET_KEY, botocore_call, isolate, model, our_call, session

CALLS: dict[str, tuple[str, dict[str, Any]]] = {  # one call of each service, to see where botocore sends it
    "acm": ("delete_certificate", {"CertificateArn": "arn:aws:acm:us-east-1:1:certificate/c"}),
    "cloudformation": ("describe_stacks", {"StackName": "acmevault"}),
    "dynamodb": ("get_item", {"TableName": "t", "Key": {"pk": {"S": "k"}}}),
    "events": ("put_events", {"Entries": [{"Source": "acmevault"}]}),
    "kms": ("decrypt", {"CiphertextBlob": b"c"}),
    "route53": ("get_change", {"Id": "C1"}),
    "s3": ("list_object_versions", {"Bucket": "acme.vault", "Prefix": "p"}),  # a dotted bucket: path-style
    "secretsmanager": ("describe_secret", {"SecretId": "s"}),
    "sns": ("publish", {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "m"}),
    "sqs": ("send_message", {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q", "MessageBody": "m"}),
    "sts": ("get_caller_identity", {}),
}
REGIONS = ("us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch)


def _client(service: str, region: str) -> Any:
    """A botocore client made now (it reads the environment's endpoints when it is made)."""
    # S3 in us-east-1: botocore's default is the legacy global name (s3.amazonaws.com); AWS's regional name,
    # which ours uses, is botocore's choice too when asked for it. Both are AWS's endpoints for us-east-1.
    config = Config(s3={"us_east_1_regional_endpoint": "regional"}, retries={"total_max_attempts": 1})
    return session().create_client(
        service, region_name=region, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, config=config
    )


def _botocore_sends(service: str, region: str) -> tuple[str, str, str]:
    """(scheme, host and path, signing region) of botocore's request, and its client's endpoint."""
    method, params = CALLS[service]
    client = _client(service, region)
    (sent,), _ = botocore_call(service, method, params, client=client)
    scope = sent.headers["authorization"].split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return client.meta.endpoint_url, sent.host + sent.path, scope[2]


def _ours(service: str, region: str) -> tuple[str, str, str]:
    method, params = CALLS[service]
    (sent,), _ = our_call(service, method, params, _ok(service), region=region)
    endpoint = resolve(service, region)
    url = f"{'https' if endpoint.secure else 'http'}://{endpoint.host}{endpoint.base_path}"
    return url, sent.host + sent.path, endpoint.region


def _ok(service: str) -> Any:
    from acmevault.adapters.aws.wire.transport import Response

    return Response(200, {}, b"{}" if model(service).protocol == "json" else b"<A><ChangeInfo/></A>")


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("service", sorted(CALLS))
def test_aws_s_own_endpoints_and_signing_regions(service: str, region: str) -> None:
    assert _ours(service, region) == _botocore_sends(service, region)


def test_the_environment_names_each_service_as_botocore_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in CALLS:
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{SERVICE_IDS[service]}", f"http://127.0.0.1:4566/{service}/")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:5000")
    for service in CALLS:
        ours, theirs = _ours(service, "eu-west-1"), _botocore_sends(service, "eu-west-1")
        assert ours[:2] == (theirs[0].rstrip("/"), theirs[1]) and ours[0] == f"http://127.0.0.1:4566/{service}"
        assert resolve(service, "eu-west-1").custom
    # and the service ids are botocore's: each variable above was read by botocore for its own service
    assert {s: model(s).service_id.replace(" ", "_").upper() for s in CALLS} == SERVICE_IDS


@pytest.mark.parametrize("service", ["dynamodb", "s3", "route53", "sts"])
def test_aws_endpoint_url_serves_the_services_not_named_on_their_own(
    monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566/base/")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", "http://127.0.0.1:1/")  # another service's: not this one's
    ours, theirs = _ours(service, "eu-west-1"), _botocore_sends(service, "eu-west-1")
    assert ours[:2] == (theirs[0].rstrip("/"), theirs[1])
    assert ours[1].startswith("localhost:4566/base/")
    # Signed for the client's region, as botocore signs; Route 53 for its partition's signing region, which
    # Route 53 requires on AWS (a FIPS endpoint named here) and a local stack ignores; botocore uses the
    # client's region there.
    assert ours[2] == ("us-east-1" if service == "route53" else theirs[2])


@pytest.mark.parametrize("value", ["true", "True"])
def test_configured_endpoints_are_ignored_when_the_environment_says_so(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    for service in CALLS:
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{SERVICE_IDS[service]}", "http://localhost:4567")
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", value)
    for service in CALLS:
        assert _ours(service, "eu-west-1") == _botocore_sends(service, "eu-west-1")
        assert not resolve(service, "eu-west-1").custom
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false")
    assert (
        urlsplit(_ours("kms", "eu-west-1")[0]).netloc
        == "localhost:4567"
        == urlsplit(_botocore_sends("kms", "eu-west-1")[0]).netloc
    )


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2", "eu-west-1"])
@pytest.mark.parametrize("service", sorted(CALLS))
def test_fips_endpoints_of_the_aws_partition_are_botocores(
    monkeypatch: pytest.MonkeyPatch, service: str, region: str
) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    ours = _ours(service, region)
    assert "-fips." in ours[0]
    assert ours == _botocore_sends(service, region)


@pytest.mark.parametrize(
    ("variable", "region", "general"),
    [
        ("AWS_USE_DUALSTACK_ENDPOINT", "us-east-1", None),
        ("AWS_USE_FIPS_ENDPOINT", "us-gov-west-1", None),  # GovCloud's FIPS names differ by service
        ("AWS_USE_FIPS_ENDPOINT", "cn-north-1", None),
        ("AWS_USE_FIPS_ENDPOINT", "us-east-1", "http://localhost:4566"),  # the general endpoint says no FIPS
    ],
)
def test_an_endpoint_acmevault_does_not_choose_is_refused_unless_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, region: str, general: str | None
) -> None:
    from acmevault.adapters.aws.wire.endpoints import EndpointNotChosen

    monkeypatch.setenv(variable, "true")
    if general is not None:
        monkeypatch.setenv("AWS_ENDPOINT_URL", general)
    with pytest.raises(EndpointNotChosen, match=f"{variable}.*AWS_ENDPOINT_URL_KMS"):
        resolve("kms", region)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", "https://kms.example.internal")
    assert resolve("kms", region).host == "kms.example.internal"


def test_an_endpoint_url_that_is_not_http_is_refused_naming_where_it_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    from acmevault.domain.errors import ConfigurationError

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "localhost:4566")  # no scheme
    with pytest.raises(ConfigurationError, match=r"AWS_ENDPOINT_URL_DYNAMODB.*'localhost:4566'"):
        resolve("dynamodb", "us-east-1")


def test_a_refused_endpoint_sends_nothing_and_the_adapter_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from acmevault.adapters.aws import clients
    from acmevault.adapters.aws.kms import KmsKeyVault
    from acmevault.adapters.aws.wire import transport
    from acmevault.adapters.aws.wire.endpoints import EndpointNotChosen

    sent: list[str] = []
    monkeypatch.setattr(transport, "HOOKS", [lambda endpoint, request, attempt: sent.append(request.operation)])
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    clients.client.cache_clear()
    try:
        with pytest.raises(EndpointNotChosen, match="AWS_ENDPOINT_URL_KMS"):
            KmsKeyVault("alias/acmevault", "us-gov-west-1").encrypt("web", "key material")
    finally:
        clients.client.cache_clear()
    assert sent == []  # refused before anything reached AWS
