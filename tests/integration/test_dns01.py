"""dns-01 proved by a real DNS lookup: a Pebble that really validates, looking records up in a DNS
server (acmevault_cli.local.dns) that answers from what the code wrote into Route 53 (moto).

A certificate issued here means Pebble asked for ``_acme-challenge.<name>`` and found the key
authorization's digest there: the record was written to Route 53, in the right zone (the DNS server
answers from the zone with the longest matching name, in whichever account holds it), on the right
name, with the right value. After every test, passed or failed, no ``_acme-challenge`` record is
left in any zone of either account.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from acmevault.adapters.aws.dns import Route53Dns
from acmevault.app.issuance import issue_certificate
from acmevault.app.services import Services
from acmevault.composition.config import Settings
from acmevault.composition.services import build
from acmevault.domain.certificate import Status
from acmevault.domain.errors import ChallengeFailed, DnsError, OutOfTime
from acmevault_cli.local.dns import TXT, LocalDns, Route53Records
from acmevault_cli.local.stack import CREDENTIALS, LocalStack, free_port
from cryptography import x509

from tests.conftest import second_pebble

OTHER_ACCOUNT = "210987654321"
ROLE_ARN = f"arn:aws:iam::{OTHER_ACCOUNT}:role/acmevault-dns01"
PARTNER_ZONE = "example.net"  # exists only in the other account
CREDENTIALS_KWARGS = {
    "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
    "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
}


def fresh_services(stack: Any, **changes: Any) -> Services:
    return replace(build(Settings.from_env(stack.env)), **changes)


def orders_at_pebble(services: Services, directory: str) -> int:
    return len(services.accounts.session(directory).order_urls())


def leaf(stack: Any, name: str) -> x509.Certificate:
    arn = fresh_services(stack).certificates.get(name).state.acm_arns["us-east-1"]
    pem = stack.aws("acm").get_certificate(CertificateArn=arn)["Certificate"]
    return x509.load_pem_x509_certificate(pem.encode())


def names_in(certificate: x509.Certificate) -> list[str]:
    return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    )


def partner_route53(stack: Any) -> Any:
    """The test's own boto3 Route 53 client in the other account (as ROLE_ARN, assumed through boto3's STS),
    independent of acmevault's assumed_client."""
    import boto3

    credentials = stack.aws("sts").assume_role(RoleArn=ROLE_ARN, RoleSessionName="acmevault-test")["Credentials"]
    return boto3.client(
        "route53",
        region_name="us-east-1",
        endpoint_url=stack.local.endpoint_url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def route53_clients(stack: Any) -> list[Any]:
    return [stack.aws("route53"), partner_route53(stack)]


def challenge_records(stack: Any) -> list[str]:
    """Every _acme-challenge record in every zone of both accounts."""
    found = []
    for r53 in route53_clients(stack):
        for zone in r53.list_hosted_zones()["HostedZones"]:
            for rrset in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]:
                if rrset["Name"].startswith("_acme-challenge."):
                    found.append(f"{rrset['Name']} in {zone['Name']}")
    return found


# -- the stack: a DNS server reading Route 53, and a Pebble that looks records up in it -------------


@pytest.fixture(scope="module")
def partner_zone(stack: Any) -> str:
    """A hosted zone in another AWS account, reachable only by assuming ROLE_ARN (moto keeps accounts apart)."""
    r53 = partner_route53(stack)
    existing = [z["Id"] for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == PARTNER_ZONE + "."]
    if existing:
        return str(existing[0].rsplit("/", 1)[-1])
    zone = r53.create_hosted_zone(Name=PARTNER_ZONE, CallerReference=f"partner-{time.time()}")["HostedZone"]
    assert not [z for z in stack.aws("route53").list_hosted_zones()["HostedZones"] if z["Name"] == PARTNER_ZONE + "."]
    return str(zone["Id"].rsplit("/", 1)[-1])


@pytest.fixture(scope="module")
def dns_server(stack: Any, partner_zone: str) -> Iterator[LocalDns]:
    source = Route53Records(stack.local.endpoint_url, [ROLE_ARN], **CREDENTIALS_KWARGS)
    with LocalDns([source]) as server:
        yield server


@pytest.fixture(scope="module")
def validating_pebble(tmp_path_factory: pytest.TempPathFactory, stack: Any, dns_server: LocalDns) -> Iterator[Any]:
    """A second Pebble without PEBBLE_VA_ALWAYS_VALID: every challenge is looked up in dns_server.
    No authorization reuse, so every order is really validated; nonce rejection stays at 5 %."""
    with second_pebble(
        tmp_path_factory,
        stack,
        "validating",
        pebble_env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0"},
        dns_server=dns_server.address,
    ) as other:
        yield other


@pytest.fixture
def directory(cli: Any, validating_pebble: Any, unique: str) -> str:
    """A directory at the validating Pebble (a new ACME account for each test)."""
    name = f"real-{unique}"
    result = cli(
        "directory",
        "put",
        name,
        "--url",
        validating_pebble.directory_url,
        "--eab-kid",
        "kid-1",
        stdin=validating_pebble.eab_keys()["kid-1"],
    )
    assert result.code == 0, result.err
    return name


@pytest.fixture(autouse=True)
def nothing_left_behind(stack: Any, partner_zone: str) -> Iterator[None]:
    yield
    assert challenge_records(stack) == []


def put(cli: Any, name: str, domains: list[str], directory: str, *extra: str) -> None:
    argv = ["cert", "put", name, *[a for d in domains for a in ("-d", d)], "--directory", directory]
    result = cli(*argv, "--challenge", "dns-01", *extra)
    assert result.code == 0, result.err


# -- issued after a real lookup --------------------------------------------------------------------


def test_a_certificate_is_issued_once_the_ca_finds_each_record_in_route53(stack, cli, directory, dns_server, unique):
    # GIVEN two names in the example.com zone, proved with dns-01
    name = f"real-{unique}"
    domains = [f"{unique}.example.com", f"www.{unique}.example.com"]
    put(cli, name, domains, directory)
    # WHEN it is issued from a Pebble that looks every record up
    result = cli("cert", "issue", name)
    # THEN it is issued for both names
    assert result.code == 0, result.err
    assert names_in(leaf(stack, name)) == domains
    # and Pebble asked the DNS server for each record, and was answered with one digest from Route 53
    for domain in domains:
        lookups = dns_server.asked(f"_acme-challenge.{domain}")
        assert lookups, f"Pebble never looked up _acme-challenge.{domain}"
        assert all(lookup.rcode == 0 and len(lookup.values) == 1 for lookup in lookups)
        assert len(lookups[0].values[0]) == 43  # base64url of a SHA-256 digest


def test_a_wildcard_and_its_apex_put_two_values_on_one_name(stack, cli, directory, dns_server, unique):
    name = f"wild-{unique}"
    domains = [f"*.{unique}.example.com", f"{unique}.example.com"]
    put(cli, name, domains, directory)
    result = cli("cert", "issue", name)
    assert result.code == 0, result.err
    assert names_in(leaf(stack, name)) == domains
    # both authorizations look at the same name; each lookup saw both values, and each found its own
    lookups = dns_server.asked(f"_acme-challenge.{unique}.example.com")
    assert lookups and all(len(set(lookup.values)) == 2 for lookup in lookups)


def test_names_in_several_zones_go_each_to_its_own_zone(stack, cli, directory, dns_server, unique):
    # GIVEN a zone delegated below example.com (the longer name wins), and names in three zones
    sub = f"sub-{unique}.example.com"
    stack.aws("route53").create_hosted_zone(Name=sub, CallerReference=f"{sub}-{time.time()}")
    name = f"zones-{unique}"
    domains = [f"{unique}.example.com", f"{unique}.example.org", f"www.{sub}", f"*.{sub}"]
    put(cli, name, domains, directory)
    # WHEN it is issued
    result = cli("cert", "issue", name)
    # THEN every name was proved: the DNS server answers www.sub-... only from the sub zone, so the
    # records there were written in it and not in example.com
    assert result.code == 0, result.err
    assert names_in(leaf(stack, name)) == domains
    assert {len(lookup.values) for lookup in dns_server.asked(f"_acme-challenge.www.{sub}")} == {1}
    assert {len(lookup.values) for lookup in dns_server.asked(f"_acme-challenge.{sub}")} == {1}


def test_a_zone_in_another_account_is_written_through_the_role(stack, cli, directory, dns_server, unique):
    # GIVEN a wildcard and its apex in a zone that exists only in another account, and the role
    # there named in the spec
    name = f"partner-{unique}"
    domains = [f"{unique}.{PARTNER_ZONE}", f"*.{unique}.{PARTNER_ZONE}"]
    put(cli, name, domains, directory, "--route53-role-arn", ROLE_ARN)
    assert f'"route53_role_arn": "{ROLE_ARN}"' in cli("cert", "show", name, "--json").out
    # WHEN it is issued
    result = cli("cert", "issue", name)
    # THEN it is issued: the DNS server found both values in the other account's zone
    assert result.code == 0, result.err
    assert names_in(leaf(stack, name)) == domains
    lookups = dns_server.asked(f"_acme-challenge.{unique}.{PARTNER_ZONE}")
    assert lookups and all(len(set(lookup.values)) == 2 for lookup in lookups)


def test_with_a_role_every_zone_must_be_in_the_roles_account(stack, cli, directory, unique):
    name = f"mixed-{unique}"
    put(cli, name, [f"{unique}.{PARTNER_ZONE}", f"{unique}.example.com"], directory, "--route53-role-arn", ROLE_ARN)
    result = cli("cert", "issue", name)
    assert result.code == 1
    assert (
        f"{unique}.example.com: no Route 53 hosted zone found for this name in the account of role {ROLE_ARN}"
        in result.err
    )
    assert orders_at_pebble(fresh_services(stack), directory) == 0


def test_without_the_role_a_zone_in_another_account_is_not_found_and_nothing_is_ordered(stack, cli, directory, unique):
    name = f"norole-{unique}"
    domain = f"{unique}.{PARTNER_ZONE}"
    put(cli, name, [domain], directory)
    services = fresh_services(stack)
    result = cli("cert", "issue", name)
    assert result.code == 1
    assert f"{domain}: no Route 53 hosted zone found for this name (set hosted_zone_id)" in result.err
    record = services.certificates.get(name)
    assert record.state.status is Status.FAILED and record.state.pending is None
    assert orders_at_pebble(services, directory) == 0  # the preflight stopped it before ordering


# -- what the CA refuses ---------------------------------------------------------------------------


class WrongValueDns(Route53Dns):
    """The real Route 53 adapter, publishing a well-formed digest of the wrong key authorization."""

    def publish(self, records: Any, deadline: float, role_arn: str | None = None) -> None:
        wrong = base64.urlsafe_b64encode(hashlib.sha256(b"not the key authorization").digest()).rstrip(b"=")
        self.wrong_value = wrong.decode()
        super().publish([replace(r, value=self.wrong_value) for r in records], deadline, role_arn)

    def remove(self, records: Any, role_arn: str | None = None) -> None:
        super().remove([replace(r, value=self.wrong_value) for r in records], role_arn)


def test_a_wrong_txt_value_fails_validation_with_the_cas_detail(stack, cli, directory, dns_server, unique, state):
    # GIVEN a certificate whose record is written with a wrong value
    name = f"wrong-{unique}"
    domain = f"{unique}.example.com"
    put(cli, name, [domain], directory)
    before = state()
    dns = WrongValueDns()
    # WHEN it is issued
    with pytest.raises(ChallengeFailed) as failed:
        issue_certificate(name, fresh_services(stack, dns=dns), time.monotonic() + 60)
    # THEN Pebble looked the record up, found the wrong value, and said so; the error carries its detail
    lookups = dns_server.asked(f"_acme-challenge.{domain}")
    assert lookups and all(lookup.values == (dns.wrong_value,) for lookup in lookups)
    message = failed.value.message
    assert message.startswith(f"{domain}: the CA's validation failed: unauthorized: ")
    assert "Correct value not found for DNS challenge" in message
    # and nothing was issued: ACM and S3 unchanged, the record failed with that message
    after = state()
    assert after["acm"] == before["acm"] and after["s3"] == before["s3"]
    record = fresh_services(stack).certificates.get(name).state
    assert record.status is Status.FAILED and record.serial is None
    assert record.last_error == f"challenge_failed: {message}"


def test_after_a_failed_validation_the_next_attempt_orders_again_and_succeeds(stack, cli, directory, unique, caplog):
    name = f"again-{unique}"
    put(cli, name, [f"{unique}.example.com"], directory)
    with pytest.raises(ChallengeFailed):
        issue_certificate(name, fresh_services(stack, dns=WrongValueDns()), time.monotonic() + 60)
    failed_order = fresh_services(stack).certificates.get(name).state.pending
    assert failed_order is not None
    # the failed order is invalid at the CA: it cannot be resumed, so a new one is placed
    with caplog.at_level(logging.INFO, logger="acmevault.app.issuance"):
        issued = issue_certificate(name, fresh_services(stack), time.monotonic() + 60)
    assert "the order in flight became invalid; ordering again" in caplog.messages
    assert issued.state.status is Status.ISSUED and issued.state.pending is None


# -- time budget -----------------------------------------------------------------------------------


def test_out_of_time_before_answering_leaves_the_order_to_be_resumed(stack, cli, directory, unique, caplog):
    # GIVEN a certificate, and an attempt with less time left than a CA needs to check a record
    name = f"late-{unique}"
    put(cli, name, [f"{unique}.example.com", f"*.{unique}.example.com"], directory)
    services = fresh_services(stack)
    with pytest.raises(OutOfTime, match="too little time is left to answer"):
        issue_certificate(name, services, time.monotonic() + 8)
    # THEN the order is kept on the record, unanswered (the records were removed: see the fixture)
    pending = services.certificates.get(name).state.pending
    assert pending is not None
    assert services.certificates.get(name).state.last_error.startswith("out_of_time: ")
    # WHEN the next attempt has time
    with caplog.at_level(logging.INFO, logger="acmevault.app.issuance"):
        issued = issue_certificate(name, fresh_services(stack), time.monotonic() + 60)
    # THEN it finished that same order instead of placing another
    resumed = [r for r in caplog.records if r.getMessage() == "resuming the order in flight"]
    assert [r.order for r in resumed] == [pending.order_url]  # type: ignore[attr-defined]
    assert orders_at_pebble(services, directory) == 1
    assert issued.state.status is Status.ISSUED and issued.state.pending is None
    assert names_in(leaf(stack, name)) == [f"{unique}.example.com", f"*.{unique}.example.com"]


def test_a_name_without_a_zone_is_named_before_anything_is_ordered(stack, cli, directory, unique):
    name = f"nozone-{unique}"
    missing = f"www.{unique}.example.invalid"
    put(cli, name, [f"{unique}.example.com", missing], directory)
    with pytest.raises(DnsError, match=f"^{missing}: no Route 53 hosted zone found for this name"):
        issue_certificate(name, fresh_services(stack), time.monotonic() + 60)
    assert orders_at_pebble(fresh_services(stack), directory) == 0


# -- access denied ----------------------------------------------------------------------------------


@pytest.fixture
def strict_aws() -> Iterator[str]:
    """A moto of its own that checks IAM, as this process's AWS: the caller is a user with no
    permission at all, so AWS refuses its AssumeRole as it would refuse one the role does not trust."""
    import boto3
    from acmevault.adapters.aws import clients
    from acmevault.adapters.aws.wire import transport

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()  # noqa: S310 - our own moto
                break
            except OSError:
                time.sleep(0.05)
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", **CREDENTIALS_KWARGS)
        iam.create_user(UserName="issuer")
        key = iam.create_access_key(UserName="issuer")["AccessKey"]
        enforce = urllib.request.Request(  # noqa: S310 - our own moto
            url + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(enforce, timeout=5).close()  # noqa: S310 - our own moto
        os.environ.update(
            AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"]
        )
        clients.client.cache_clear()
        clients.forget_assumed_clients()
        yield url
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        clients.client.cache_clear()
        clients.forget_assumed_clients()
        transport.close_connections()  # this thread's connection to the moto about to stop
        process.terminate()
        process.wait(10)


def test_a_role_that_cannot_be_assumed_is_named_with_awss_reason(strict_aws):
    dns = Route53Dns()
    with pytest.raises(DnsError) as denied:
        dns.zone_for(f"www.{PARTNER_ZONE}", None, ROLE_ARN)
    message = denied.value.message
    assert message.startswith(
        f"cannot assume role {ROLE_ARN} to reach its Route 53 zones: access denied (AccessDenied)"
    )
    assert "user/issuer is not authorized to perform: sts:AssumeRole" in message


# -- the DNS server itself -------------------------------------------------------------------------


def udp_answer(address: str, name: str, qtype: int = TXT) -> bytes:
    import socket
    import struct

    host, port = address.rsplit(":", 1)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(struct.pack("!6H", 7, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!2H", qtype, 1), (host, int(port)))
        return udp.recv(4096)


def test_the_dns_server_answers_over_udp_and_tcp_from_route53(stack, dns_server, partner_zone, unique):
    import socket
    import struct

    zone = next(z["Id"] for z in stack.aws("route53").list_hosted_zones()["HostedZones"] if z["Name"] == "example.org.")
    record = f"_acme-challenge.{unique}.example.org."
    change = {"Name": record, "Type": "TXT", "TTL": 60, "ResourceRecords": [{"Value": '"one"'}, {"Value": '"two"'}]}
    r53 = stack.aws("route53")
    r53.change_resource_record_sets(
        HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": change}]}
    )

    def query(name: str, qtype: int) -> bytes:
        labels = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
        return struct.pack("!6H", 0x1234, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!2H", qtype, 1)

    def header(answer: bytes) -> tuple[int, int, int]:
        ident, flags, _, count = struct.unpack("!4H", answer[:8])
        return ident, flags & 0xF, count

    host, port = dns_server.address.rsplit(":", 1)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(5)
            for name, qtype, expected in [
                (record, TXT, (0x1234, 0, 2)),  # two records
                (record.upper(), TXT, (0x1234, 0, 2)),  # names are case-insensitive
                (record, 257, (0x1234, 0, 0)),  # CAA: none
                (f"nothing-{unique}.example.org.", TXT, (0x1234, 3, 0)),  # NXDOMAIN
                (f"{unique}.not-a-zone.test.", TXT, (0x1234, 3, 0)),
            ]:
                udp.sendto(query(name, qtype), (host, int(port)))
                answer = udp.recv(4096)
                assert header(answer) == expected, name
                if expected[2] == 2:
                    assert b"\x03one" in answer and b"\x03two" in answer
        with socket.create_connection((host, int(port)), timeout=5) as tcp:
            message = query(record, TXT)
            tcp.sendall(struct.pack("!H", len(message)) + message)
            length = struct.unpack("!H", tcp.recv(2))[0]
            answer = b""
            while len(answer) < length:
                answer += tcp.recv(length - len(answer))
            assert header(answer) == (0x1234, 0, 2)
    finally:
        r53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": change}]}
        )


def test_the_local_stack_runs_its_own_dns_server_for_pebble(tmp_path, unique):
    # GIVEN a local stack started as `acmevault local up --real-dns` starts it
    local = LocalStack(
        tmp_path / "stack",
        pebble_port=free_port(),
        management_port=free_port(),
        moto_port=free_port(),
        dns_port=free_port(),
        name=f"real-dns-{unique}",
    )
    env = local.up()
    try:
        # THEN Pebble looks records up in it, and it answers from that stack's Route 53
        assert env["ACMEVAULT_LOCAL_DNS"] == f"127.0.0.1:{local.dns_port}"
        assert (
            f"Using custom DNS resolver for ACME challenges: {env['ACMEVAULT_LOCAL_DNS']}"
            in (local.state_dir / "pebble.log").read_text()
        )
        import boto3

        r53 = boto3.client("route53", endpoint_url=local.endpoint_url, region_name="us-east-1", **CREDENTIALS_KWARGS)
        zone = next(z["Id"] for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "example.com.")
        change = {"Name": "_acme-challenge.www.example.com.", "Type": "TXT", "TTL": 60}
        change["ResourceRecords"] = [{"Value": '"from-this-stack"'}]
        r53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": change}]}
        )
        assert b"\x0ffrom-this-stack" in udp_answer(env["ACMEVAULT_LOCAL_DNS"], "_acme-challenge.www.example.com")
    finally:
        assert set(local.down()) == {"pebble", "moto", "acm", "dns"}
