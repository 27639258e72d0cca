"""Define and issue certificates against real Pebble + moto server, and read everything back."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from acmevault.adapters.aws.dns import Route53Dns
from acmevault.app.issuance import issue_certificate, renew_if_due
from acmevault.app.services import Services
from acmevault.composition.config import Settings
from acmevault.composition.services import build
from acmevault.domain.certificate import Status
from acmevault.domain.errors import AuthorizationRequired, AwsUnavailable, CaUnavailable
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def certificate(stack: Any, name: str) -> dict[str, Any]:
    item = stack.aws("dynamodb").get_item(
        TableName=stack.env["ACMEVAULT_TABLE"], Key={"pk": {"S": "CERT"}, "sk": {"S": name}}
    )["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


def s3_text(stack: Any, key: str) -> str:
    return stack.aws("s3").get_object(Bucket=stack.env["ACMEVAULT_BUCKET"], Key=key)["Body"].read().decode()


def issued_in_acm(stack: Any, arn: str) -> tuple[x509.Certificate, list[x509.Certificate]]:
    got = stack.aws("acm").get_certificate(CertificateArn=arn)
    chain = x509.load_pem_x509_certificates(got["CertificateChain"].encode())
    # moto appends Amazon's own CA chain to whatever was imported; keep what we imported
    imported = [c for c in chain if "Amazon" not in c.subject.rfc4514_string()]
    return x509.load_pem_x509_certificate(got["Certificate"].encode()), imported


def fresh_services(stack: Any, **changes: Any) -> Services:
    """Services with empty per-container caches, as a new Lambda container would have."""
    return replace(build(Settings.from_env(stack.env)), **changes)


def test_issue_three_names_into_acm_and_s3(stack, cli, directory, unique):
    # GIVEN a certificate with three names
    name = f"web-{unique}"
    domains = [f"www.{unique}.example.com", f"{unique}.example.com", f"api.{unique}.example.com"]
    put = cli("cert", "put", name, *[a for d in domains for a in ("-d", d)], "--directory", directory)
    assert put.code == 0, put.err
    # WHEN it is issued
    issued = cli("cert", "issue", name)
    assert issued.code == 0, issued.err
    # THEN ACM holds it with its chain, and the chain ends at Pebble's root
    record = certificate(stack, name)
    arn = record["acm_arns"]["us-east-1"]["S"]
    leaf, chain = issued_in_acm(stack, arn)
    assert format(leaf.serial_number, "x") == record["serial"]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == domains[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == domains
    root = x509.load_pem_x509_certificate(stack.local.pebble_root_pem().encode())
    leaf.verify_directly_issued_by(chain[0])
    chain[-1].verify_directly_issued_by(root)
    # and S3 holds the five files, the key encrypted with the stack's KMS key and matching the certificate
    prefix = f"certificates/{name}/"
    assert record["s3_prefix"] == prefix
    s3 = stack.aws("s3")
    head = s3.head_object(Bucket=stack.env["ACMEVAULT_BUCKET"], Key=prefix + "privkey.pem")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == stack.env["ACMEVAULT_KMS_KEY_ID"]
    key = serialization.load_pem_private_key(s3_text(stack, prefix + "privkey.pem").encode(), None)
    assert key.public_key().public_numbers() == leaf.public_key().public_numbers()  # type: ignore[union-attr]
    assert x509.load_pem_x509_certificate(s3_text(stack, prefix + "cert.pem").encode()) == leaf
    assert x509.load_pem_x509_certificates(s3_text(stack, prefix + "chain.pem").encode()) == chain
    assert x509.load_pem_x509_certificates(s3_text(stack, prefix + "fullchain.pem").encode()) == [leaf, *chain]
    metadata = json.loads(s3_text(stack, prefix + "metadata.json"))
    assert metadata["serial"] == record["serial"] and metadata["domains"] == domains
    assert metadata["acm_arns"] == {"us-east-1": arn}
    # it names the version of each file of this one matching set (objects cannot be swapped together)
    assert set(metadata["versions"]) == {"cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"}
    assert metadata["versions"]["privkey.pem"] == head["VersionId"]
    key_version = s3.get_object(
        Bucket=stack.env["ACMEVAULT_BUCKET"], Key=prefix + "privkey.pem", VersionId=metadata["versions"]["privkey.pem"]
    )["Body"].read()
    assert serialization.load_pem_private_key(key_version, None).public_key().public_numbers() == (
        leaf.public_key().public_numbers()  # type: ignore[union-attr]
    )
    # and the list shows it
    listed = cli("cert", "list", "--json")
    assert {"name": name, "status": "issued", "serial": record["serial"]}.items() <= next(
        c for c in json.loads(listed.out) if c["name"] == name
    ).items()


@pytest.mark.parametrize(
    ("key_type", "check"),
    [
        ("ec-p256", lambda k: isinstance(k, ec.EllipticCurvePublicKey) and k.curve.name == "secp256r1"),
        ("ec-p384", lambda k: isinstance(k, ec.EllipticCurvePublicKey) and k.curve.name == "secp384r1"),
        ("rsa-2048", lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 2048),
        ("rsa-3072", lambda k: isinstance(k, rsa.RSAPublicKey) and k.key_size == 3072),
    ],
)
def test_each_key_type_is_issued_with_that_key(stack, cli, directory, unique, key_type, check):
    name = f"k-{unique}"
    assert (
        cli("cert", "put", name, "-d", f"{unique}.example.org", "--directory", directory, "--key-type", key_type).code
        == 0
    )
    assert cli("cert", "issue", name).code == 0
    leaf, _ = issued_in_acm(stack, certificate(stack, name)["acm_arns"]["us-east-1"]["S"])
    assert check(leaf.public_key())


def test_reissue_keeps_the_acm_arn_and_adds_an_s3_version(stack, cli, directory, unique):
    name = f"re-{unique}"
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory).code == 0
    assert cli("cert", "issue", name).code == 0
    first = certificate(stack, name)
    assert cli("cert", "renew", name).code == 0
    second = certificate(stack, name)
    assert second["serial"] != first["serial"]
    # the account registered when the directory was vaulted is reused, not registered again
    secret = stack.aws("secretsmanager").get_secret_value(SecretId=f"acmevault/acmevault-local/directories/{directory}")
    assert first["account_url"] == second["account_url"] == json.loads(secret["SecretString"])["account_url"]
    assert second["acm_arns"] == first["acm_arns"]
    leaf, _ = issued_in_acm(stack, second["acm_arns"]["us-east-1"]["S"])
    assert format(leaf.serial_number, "x") == second["serial"]
    versions = stack.aws("s3").list_object_versions(
        Bucket=stack.env["ACMEVAULT_BUCKET"], Prefix=f"certificates/{name}/cert.pem"
    )["Versions"]
    assert len(versions) == 2


def test_an_order_with_one_hundred_names(stack, cli, directory, unique):
    name = f"many-{unique}"
    domains = [f"h{i}.{unique}.example.com" for i in range(100)]
    assert cli("cert", "put", name, *[a for d in domains for a in ("-d", d)], "--directory", directory).code == 0
    result = cli("cert", "issue", name)
    assert result.code == 0, result.err
    leaf, _ = issued_in_acm(stack, certificate(stack, name)["acm_arns"]["us-east-1"]["S"])
    assert len(leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value) == 100


class RecordingDns(Route53Dns):
    """The real Route 53 adapter, noting what was in the zone at the moment records were published."""

    def __init__(self, stack: Any) -> None:
        super().__init__()
        self.stack = stack
        self.seen: list[tuple[str, list[str]]] = []

    def publish(self, records: Any, deadline: float, role_arn: str | None = None) -> None:
        records = list(records)
        super().publish(records, deadline, role_arn)
        for record in records:
            zone = self.stack.aws("route53").list_resource_record_sets(HostedZoneId=record.zone)
            for rrset in zone["ResourceRecordSets"]:
                if rrset["Type"] == "TXT" and rrset["Name"] == record.name + ".":
                    self.seen.append((record.name, [r["Value"] for r in rrset["ResourceRecords"]]))


def challenge_records(stack: Any) -> list[str]:
    r53 = stack.aws("route53")
    names = []
    for zone in r53.list_hosted_zones()["HostedZones"]:
        for rrset in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]:
            if rrset["Name"].startswith("_acme-challenge."):
                names.append(rrset["Name"])
    return names


def test_dns01_writes_txt_records_to_route53_and_removes_them(stack, cli, directory, unique):
    name = f"dns-{unique}"
    domains = [f"{unique}.example.com", f"*.{unique}.example.com", f"{unique}.example.org"]
    assert (
        cli(
            "cert",
            "put",
            name,
            *[a for d in domains for a in ("-d", d)],
            "--directory",
            directory,
            "--challenge",
            "dns-01",
        ).code
        == 0
    )
    services = fresh_services(stack)
    dns = RecordingDns(stack)
    services = Services(**{**services.__dict__, "dns": dns})
    issue_certificate(name, services, time.monotonic() + 60)
    # the wildcard and its apex share one name with two values; the .org name lives in the other zone
    published = dict(dns.seen)
    assert set(published) == {f"_acme-challenge.{unique}.example.com", f"_acme-challenge.{unique}.example.org"}
    assert len(published[f"_acme-challenge.{unique}.example.com"]) == 2
    assert all(len(v.strip('"')) == 43 for values in published.values() for v in values)  # base64url SHA-256
    assert challenge_records(stack) == []


class NoDns(Route53Dns):
    def publish(self, records: Any, deadline: float, role_arn: str | None = None) -> None:
        raise AssertionError(f"no challenge was expected, but records were published: {list(records)}")


def test_prevalidated_names_are_issued_without_a_challenge(stack, cli, directory, unique):
    # GIVEN names the CA already holds valid authorizations for (as for pre-validated OV/EV domains)
    name = f"ov-{unique}"
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory).code == 0
    assert cli("cert", "issue", name).code == 0
    # WHEN the certificate says challenge none and is issued again
    assert (
        cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory, "--challenge", "none").code
        == 0
    )
    services = Services(**{**fresh_services(stack).__dict__, "dns": NoDns()})
    issued = issue_certificate(name, services, time.monotonic() + 60)
    # THEN it is issued, and nothing was written to DNS
    assert issued.state.status is Status.ISSUED


def test_a_wildcard_with_challenge_none_only_where_the_ca_holds_it_valid(stack, cli, directory, unique):
    name = f"wild-{unique}"
    wildcard = f"*.{unique}.example.com"
    # not validated at the CA: refused, naming the wildcard
    assert cli("cert", "put", name, "-d", wildcard, "--directory", directory, "--challenge", "none").code == 0
    refused = cli("cert", "issue", name)
    assert refused.code == 1
    assert wildcard in refused.err
    # validated once with dns-01: from then on the CA holds it valid and challenge none works
    assert cli("cert", "put", name, "-d", wildcard, "--directory", directory, "--challenge", "dns-01").code == 0
    assert cli("cert", "issue", name).code == 0
    assert cli("cert", "put", name, "-d", wildcard, "--directory", directory, "--challenge", "none").code == 0
    services = Services(**{**fresh_services(stack).__dict__, "dns": NoDns()})
    assert issue_certificate(name, services, time.monotonic() + 60).state.status is Status.ISSUED


def test_challenge_none_with_a_name_not_validated_fails_naming_it(stack, cli, directory, unique, state):
    name = f"none-{unique}"
    domain = f"new.{unique}.example.com"
    assert cli("cert", "put", name, "-d", domain, "--directory", directory, "--challenge", "none").code == 0
    before = state()
    result = cli("cert", "issue", name)
    assert result.code == 1
    assert domain in result.err and "challenge is 'none'" in result.err
    after = state()
    assert after["acm"] == before["acm"] and after["s3"] == before["s3"] and after["secrets"] == before["secrets"]
    record = certificate(stack, name)
    assert record["status"] == "failed"
    assert record["last_error"].startswith(AuthorizationRequired.code)


class FailingAcm:
    def import_certificate(self, *args: Any) -> str:
        raise AwsUnavailable("importing into ACM: AWS is throttling or failing (ThrottlingException)")


def test_acm_failing_holds_back_neither_s3_nor_the_record_and_the_region_catches_up_without_an_order(
    stack, cli, directory, unique, state
):
    # GIVEN an issued certificate
    name = f"keep-{unique}"
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory).code == 0
    assert cli("cert", "issue", name).code == 0
    before_record = certificate(stack, name)
    arn = before_record["acm_arns"]["us-east-1"]["S"]
    before = state()
    # WHEN ACM throttles on renewal
    services = Services(**{**fresh_services(stack).__dict__, "acm": FailingAcm()})
    renewed = issue_certificate(name, services, time.monotonic() + 60).state
    # THEN S3 and the record move to the new certificate; the region keeps the previous one and says why
    after = state()
    assert after["acm"] == before["acm"] and after["s3"] != before["s3"]
    record = certificate(stack, name)
    assert record["serial"] == renewed.serial != before_record["serial"] and record["status"] == "issued"
    region = renewed.regions["us-east-1"]
    assert region.status.value == "failed" and region.serial == before_record["serial"] and region.arn == arn
    assert "ThrottlingException" in (region.error or "") and record["consecutive_failures"] == "1"
    leaf, _ = issued_in_acm(stack, arn)
    assert format(leaf.serial_number, "x") == before_record["serial"]
    # AND the next run imports the certificate the record holds into the same ARN, without a new order
    orders = len(fresh_services(stack).accounts.session(directory).order_urls())
    later = fresh_services(stack, clock=lambda: datetime.now(UTC) + timedelta(hours=7))
    caught_up = renew_if_due(name, later, time.monotonic() + 60)
    assert caught_up is not None and caught_up.state.serial == renewed.serial
    assert len(fresh_services(stack).accounts.session(directory).order_urls()) == orders
    leaf, _ = issued_in_acm(stack, arn)
    assert format(leaf.serial_number, "x") == renewed.serial
    record = certificate(stack, name)
    assert record["consecutive_failures"] == "0" and "catch_up_key" not in record
    assert record["regions"]["us-east-1"]["M"]["status"]["S"] == "served"


def test_the_ca_down_leaves_the_previous_certificate_serving(stack, cli, directory, unique, state):
    name = f"down-{unique}"
    assert cli("cert", "put", name, "-d", f"{unique}.example.com", "--directory", directory).code == 0
    assert cli("cert", "issue", name).code == 0
    serial = certificate(stack, name)["serial"]
    # the CA stops answering: point this directory's credential at a closed port
    sm = stack.aws("secretsmanager")
    secret_id = f"acmevault/acmevault-local/directories/{directory}"
    value = json.loads(sm.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"])
    sm.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({**value, "directory_url": "https://127.0.0.1:9/dir"})
    )
    before = state()
    with pytest.raises(CaUnavailable, match="cannot reach the CA"):
        issue_certificate(name, fresh_services(stack), time.monotonic() + 60)
    after = state()
    assert after["acm"] == before["acm"] and after["s3"] == before["s3"]
    assert certificate(stack, name)["serial"] == serial
