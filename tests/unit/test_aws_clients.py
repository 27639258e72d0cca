"""The AWS clients (adapters/aws/clients.py): one per service and region, built at first use; the region
from the configuration, or none, as botocore (the reference) has it; a client acting as a role is built
with the credentials STS hands out for it, and built again shortly before they lapse.

STS is answered through the transport's hooks with its own XML; what a client signs with is read off
the requests a local HTTP server receives (127.0.0.1: no AWS, no network)."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import botocore.session
import pytest
from acmevault.adapters.aws import clients
from acmevault.adapters.aws.wire import credentials, transport
from acmevault.adapters.aws.wire.endpoints import Endpoint
from botocore.exceptions import ClientError, NoRegionError

ROLE = "arn:aws:iam::210987654321:role/acmevault-dns01"
STS = "https://sts.amazonaws.com/doc/2011-06-15/"
ZONES = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<ListHostedZonesResponse '
    b'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><HostedZones/><Marker></Marker>'
    b"<IsTruncated>false</IsTruncated><MaxItems>100</MaxItems></ListHostedZonesResponse>"
)


@pytest.fixture(autouse=True)
def configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[None]:
    """This test's own AWS configuration: the environment's keys, eu-west-1, no profile, no endpoint
    from elsewhere; no client built before."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDOWN")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "own-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))  # none: no profile region
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setattr(transport, "HOOKS", [])
    monkeypatch.setattr(transport, "_quotas", {})
    credentials.profile_region.cache_clear()
    clients.client.cache_clear()
    clients.forget_assumed_clients()
    yield
    credentials.profile_region.cache_clear()
    clients.client.cache_clear()
    clients.forget_assumed_clients()
    transport.close_connections()


def sent_to(call: Any) -> Endpoint:
    """The endpoint a client's request goes to (answered by a hook: nothing leaves the process)."""
    seen: list[Endpoint] = []

    def answer(endpoint: Endpoint, request: transport.Request, attempt: int) -> transport.Response:
        seen.append(endpoint)
        return transport.Response(
            200, {}, b"<GetCallerIdentityResponse><GetCallerIdentityResult/></GetCallerIdentityResponse>"
        )

    transport.HOOKS.append(answer)
    try:
        call()
    finally:
        transport.HOOKS.remove(answer)
    [endpoint] = seen
    return endpoint


def botocore_client(service: str, **kwargs: Any) -> Any:
    """botocore's client, configured as this test configured the environment."""
    return botocore.session.get_session().create_client(service, **kwargs)


# -- client(service, region) ---------------------------------------------------------------------------


def test_a_client_is_built_once_per_service_and_region():
    dynamodb = clients.client("dynamodb", "us-east-1")
    assert clients.client("dynamodb", "us-east-1") is dynamodb
    assert clients.client("dynamodb", "eu-central-1") is not dynamodb
    assert clients.client("s3", "us-east-1") is not dynamodb
    assert sent_to(lambda: clients.client("sts", "eu-central-1").get_caller_identity()).region == "eu-central-1"


def test_an_unknown_service_is_refused_naming_it():
    with pytest.raises(ValueError, match="acmevault has no client for the AWS service 'ec2'"):
        clients.client("ec2", "us-east-1")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="'ec2'"):  # refused again: a refusal is not a client to cache
        clients.client("ec2", "us-east-1")  # type: ignore[call-overload]


def test_without_a_region_the_configured_one_is_used_as_botocore_uses_it():
    endpoint = sent_to(lambda: clients.client("sts").get_caller_identity())
    reference = botocore_client("sts")
    assert endpoint.region == reference.meta.region_name == "eu-west-1"
    assert f"https://{endpoint.host}" == reference.meta.endpoint_url
    assert clients.configured_region() == "eu-west-1"


SERVICES = (
    "acm",
    "cloudformation",
    "dynamodb",
    "events",
    "kms",
    "route53",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "sts",
)


GLOBAL_CALLS = {
    "route53": lambda c: c.list_hosted_zones(),
    "sts": lambda c: c.get_caller_identity(),
    "s3": lambda c: c.get_object(Bucket="bucket", Key="key"),
}


@pytest.mark.parametrize("service", SERVICES)
def test_without_any_region_a_client_is_refused_where_botocore_refuses_it(monkeypatch, service):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert clients.configured_region() is None
    try:
        reference = botocore_client(service)
    except NoRegionError:
        with pytest.raises(NoRegionError):
            clients.client(service)  # type: ignore[call-overload]
        return
    # botocore's global endpoints (Route 53, STS, S3): signed for us-east-1, where the client goes too
    assert reference.meta.service_model.signing_name == service
    signed_for = "us-east-1" if reference.meta.region_name == "aws-global" else reference.meta.region_name
    assert signed_for == "us-east-1"
    assert sent_to(lambda: GLOBAL_CALLS[service](clients.client(service))).region == signed_for  # type: ignore[call-overload]


def test_a_region_from_the_profile_when_the_environment_has_none(monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    (tmp_path / "config").write_text("[default]\nregion = ap-southeast-2\n")
    assert sent_to(lambda: clients.client("sts").get_caller_identity()).region == "ap-southeast-2"
    assert botocore_client("sts").meta.region_name == "ap-southeast-2"


# -- assumed_client(service, role) ---------------------------------------------------------------------


class Sts:
    """STS answering AssumeRole through the transport's hooks: each answer's credentials expire
    ``lasting`` after it is given; the requests' forms are kept."""

    def __init__(self, lasting: timedelta) -> None:
        self.lasting = lasting
        self.forms: list[dict[str, list[str]]] = []
        self.refuse = False

    def hook(self, endpoint: Endpoint, request: transport.Request, attempt: int) -> transport.Response | None:
        if endpoint.service != "sts":
            return None
        self.forms.append(parse_qs(request.body.decode()))
        if self.refuse:
            body = (
                f'<ErrorResponse xmlns="{STS}"><Error><Type>Sender</Type><Code>AccessDenied</Code>'
                f"<Message>User: arn:aws:iam::123456789012:user/issuer is not authorized to perform: "
                f"sts:AssumeRole on resource: {ROLE}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
            )
            return transport.Response(403, {"content-type": "text/xml"}, body.encode())
        n = len(self.forms)
        expiration = (datetime.now(UTC) + self.lasting).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = (
            f'<AssumeRoleResponse xmlns="{STS}"><AssumeRoleResult><Credentials>'
            f"<AccessKeyId>ASIAROLE{n}</AccessKeyId><SecretAccessKey>role-secret-{n}</SecretAccessKey>"
            f"<SessionToken>role-token-{n}</SessionToken><Expiration>{expiration}</Expiration></Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:acmevault</AssumedRoleId>"
            f"<Arn>arn:aws:sts::210987654321:assumed-role/acmevault-dns01/acmevault</Arn></AssumedRoleUser>"
            f"</AssumeRoleResult><ResponseMetadata><RequestId>r-{n}</RequestId></ResponseMetadata></AssumeRoleResponse>"
        )
        return transport.Response(200, {"content-type": "text/xml"}, body.encode())


class Route53Server:
    """A local HTTP server standing in for Route 53: answers ListHostedZones, keeps each request's headers."""

    def __init__(self) -> None:
        received: list[dict[str, str]] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                received.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(ZONES)))
                self.end_headers()
                self.wfile.write(ZONES)

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def signed_as(self) -> tuple[str, str | None]:
        """The access key and session token the last request was signed with."""
        headers = self.received[-1]
        credential = headers["authorization"].split("Credential=", 1)[1].split("/", 1)[0]
        return credential, headers.get("x-amz-security-token")


@pytest.fixture
def route53(monkeypatch: pytest.MonkeyPatch) -> Iterator[Route53Server]:
    server = Route53Server()
    monkeypatch.setenv("AWS_ENDPOINT_URL_ROUTE_53", server.url)
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_role_client_signs_with_the_roles_credentials_and_the_plain_one_with_the_own(route53):
    sts = Sts(timedelta(hours=1))
    transport.HOOKS.append(sts.hook)
    # WHEN a client acting as the role lists zones, and so does the plain client
    assumed = clients.assumed_client("route53", ROLE)
    assumed.list_hosted_zones()
    as_role = route53.signed_as()
    clients.client("route53").list_hosted_zones()
    # THEN the role was assumed as acmevault, once, and each request was signed with its own credentials
    assert [(f["Action"], f["RoleArn"], f["RoleSessionName"]) for f in sts.forms] == [
        (["AssumeRole"], [ROLE], [clients.ROLE_SESSION_NAME])
    ]
    assert as_role == ("ASIAROLE1", "role-token-1")
    assert route53.signed_as() == ("AKIDOWN", None)


def test_a_role_client_is_kept_while_its_credentials_last(route53):
    sts = Sts(timedelta(hours=1))
    transport.HOOKS.append(sts.hook)
    first = clients.assumed_client("route53", ROLE)
    assert clients.assumed_client("route53", ROLE) is first
    assert len(sts.forms) == 1


def test_a_role_client_is_built_again_when_its_credentials_lapse_within_five_minutes(route53):
    # GIVEN credentials that lapse in four minutes
    sts = Sts(timedelta(minutes=4))
    transport.HOOKS.append(sts.hook)
    first = clients.assumed_client("route53", ROLE)
    # WHEN the client is asked for again: THEN the role is assumed again and the new credentials sign
    second = clients.assumed_client("route53", ROLE)
    assert second is not first and len(sts.forms) == 2
    second.list_hosted_zones()
    assert route53.signed_as() == ("ASIAROLE2", "role-token-2")


def test_a_role_that_cannot_be_assumed_raises_awss_refusal_and_is_asked_again_next_time(route53):
    sts = Sts(timedelta(hours=1))
    sts.refuse = True
    transport.HOOKS.append(sts.hook)
    with pytest.raises(ClientError) as refused:
        clients.assumed_client("route53", ROLE)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert len(sts.forms) == 1  # AccessDenied is not retried
    sts.refuse = False
    clients.assumed_client("route53", ROLE).list_hosted_zones()
    assert len(sts.forms) == 2 and route53.signed_as() == ("ASIAROLE2", "role-token-2")
