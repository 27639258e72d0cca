"""SXG directories on the local stack: the flag kept in the directory secret, specs it cannot serve
refused, a certificate without CanSignHttpExchanges refused end to end (Pebble issues no other), and
one with it (Pebble's, re-signed by the test's own SXG CA through the proxy) delivered to S3 only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography import x509

from tests.conftest import snapshot
from tests.e2e.api_client import call, event, sample
from tests.fakes.sxg_ca import CAN_SIGN_HTTP_EXCHANGES, SxgCa
from tests.reliability.fault_proxy import FaultProxy
from tests.reliability.helpers import acm_certificates_by_domain

PREFIX = "acmevault/acmevault-local/directories/"


def sxg_directory(stack: Any, cli: Any, name: str, url: str | None = None) -> None:
    result = cli(
        "directory", "put", name, "--url", url or stack.directory_url, "--eab-kid", "kid-1", "--sxg",
        stdin=stack.hmac(),
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "S3 only" in result.out


def secret(stack: Any, name: str) -> dict[str, Any]:
    return dict(
        json.loads(
            stack.aws("secretsmanager").get_secret_value(SecretId=PREFIX + name, VersionStage="AWSCURRENT")[
                "SecretString"
            ]
        )
    )


def show(cli: Any, name: str) -> dict[str, Any]:
    shown = cli("cert", "show", name, "--json")
    assert shown.code == 0, shown.err
    return dict(json.loads(shown.out))


def s3_keys(stack: Any, name: str) -> list[str]:
    listed = stack.aws("s3").list_objects_v2(Bucket=stack.env["ACMEVAULT_BUCKET"], Prefix=f"certificates/{name}/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def events_for(stack: Any, name: str) -> list[dict[str, Any]]:
    sqs, url = stack.aws("sqs"), stack.env["ACMEVAULT_LOCAL_EVENTS_QUEUE_URL"]
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found += [json.loads(m["Body"]) for m in messages]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    return [e for e in found if e["detail"].get("certificate") == name]


def test_an_sxg_directory_keeps_the_flag_in_its_secret_and_shows_it(stack, cli, unique):
    # WHEN a directory is vaulted with --sxg, and another through the API with "sxg": true
    sxg_directory(stack, cli, f"sxg-{unique}")
    body = json.loads(sample("api-put-directory.json")["body"])
    body.update(directory_url=stack.directory_url, eab_kid="kid-1", eab_hmac_key=stack.hmac(), sxg=True)
    reply = call(stack, event("api-put-directory.json", name=f"sxg-api-{unique}", body=body))
    # THEN each secret holds "sxg": true beside the credential, and each view says so
    assert reply.status == 201, reply.body
    assert reply.body["sxg"] is True
    assert secret(stack, f"sxg-{unique}")["sxg"] is True
    assert secret(stack, f"sxg-api-{unique}")["sxg"] is True
    assert json.loads(cli("directory", "show", f"sxg-{unique}", "--json").out)["sxg"] is True
    # and a directory vaulted without it is not SXG
    assert cli("directory", "put", f"plain-{unique}", "--url", stack.directory_url, "--eab-kid", "kid-1",
               stdin=stack.hmac()).code == 0  # fmt: skip
    assert "sxg" not in secret(stack, f"plain-{unique}")
    assert json.loads(cli("directory", "show", f"plain-{unique}", "--json").out)["sxg"] is False


def test_a_spec_an_sxg_directory_cannot_serve_is_refused_and_changes_nothing(stack, cli, unique):
    directory, name = f"sxg-{unique}", f"sxg-spec-{unique}"
    sxg_directory(stack, cli, directory)
    before = snapshot(stack)
    # WHEN a certificate asks for ACM, or for another key type
    to_acm = cli(
        "cert", "put", name, "-d", f"{name}.example.com", "--directory", directory, "--acm-region", "us-east-1"
    )
    rsa = cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory, "--key-type", "rsa-2048")
    body = json.loads(sample("api-put-certificate.json")["body"])
    body.update(domains=[f"{name}.example.com"], directory=directory, acm_regions=["us-east-1"])
    reply = call(stack, event("api-put-certificate.json", name=name, body=body))
    # THEN each is refused as bad input naming what was refused, and nothing changed
    assert to_acm.code == 2 and "acm_regions" in to_acm.err and "ACM" in to_acm.err
    assert rsa.code == 2 and "key_type" in rsa.err and "ec-p256" in rsa.err
    assert reply.status == 400 and reply.body["field"] == "acm_regions" and "ACM" in reply.body["message"]
    assert snapshot(stack) == before


def test_a_certificate_without_the_sxg_extension_is_refused_and_nothing_is_delivered(stack, cli, unique):
    # GIVEN an SXG directory whose CA (Pebble) cannot issue SXG certificates
    directory, name = f"sxg-{unique}", f"sxg-no-{unique}"
    sxg_directory(stack, cli, directory)
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    events_for(stack, name)
    # WHEN it is issued
    result = cli("cert", "issue", name)
    # THEN the certificate is refused, the error naming the extension
    assert result.code == 1
    assert "CanSignHttpExchanges" in result.err and "1.3.6.1.4.1.11129.2.1.22" in result.err
    # and nothing was delivered: no file in S3, no certificate in ACM
    assert s3_keys(stack, name) == []
    assert f"{name}.example.com" not in acm_certificates_by_domain(stack)
    # and the record shows the refusal, with no order left to push later
    view = show(cli, name)
    assert view["status"] == "failed" and view["serial"] is None and view["acm_arns"] == {}
    assert "CanSignHttpExchanges" in view["last_error"]
    item = stack.aws("dynamodb").get_item(
        TableName=stack.env["ACMEVAULT_TABLE"], Key={"pk": {"S": "CERT"}, "sk": {"S": name}}
    )["Item"]
    assert "pending_order_url" not in item
    failed = [e for e in events_for(stack, name) if e["detail-type"] == "Certificate Renewal Failed"]
    assert len(failed) == 1 and "CanSignHttpExchanges" in failed[0]["detail"]["message"]


@pytest.fixture
def sxg_ca_proxy(stack: Any) -> Any:
    """Pebble behind the proxy, each downloaded certificate re-signed with CanSignHttpExchanges (no
    emulator issues SXG certificates: this stands in for DigiCert's SXG directory)."""
    proxy = FaultProxy(stack.local, seed=1).start()
    proxy.certificates = SxgCa().resign
    try:
        yield proxy
    finally:
        proxy.stop()


def test_an_sxg_certificate_goes_to_s3_only_and_a_missing_caa_record_is_a_warning(stack, cli, unique, sxg_ca_proxy):
    # GIVEN an SXG directory whose CA issues SXG certificates, and two names in the example.com zone:
    # one with a CAA record that allows SXG, one without
    directory = f"sxg-{unique}"
    sxg_directory(stack, cli, directory, sxg_ca_proxy.directory_url)
    allowed, missing = f"sxg-caa-{unique}", f"sxg-nocaa-{unique}"
    r53 = stack.aws("route53")
    zone = next(z["Id"] for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == "example.com.")
    r53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"{allowed}.example.com.",
                        "Type": "CAA",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": '0 issue "digicert.com; cansignhttpexchanges=yes"'}],
                    },
                }
            ]
        },
    )
    for name in (allowed, missing):
        assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
        events_for(stack, name)

        # WHEN it is issued (the stack has a default ACM region)
        result = cli("cert", "issue", name)

        # THEN it is issued and written to S3, with the extension, and never imported into ACM
        assert result.code == 0, result.err
        view = show(cli, name)
        assert view["status"] == "issued" and view["acm_arns"] == {}
        assert "certificates/" + name + "/cert.pem" in s3_keys(stack, name)
        assert f"{name}.example.com" not in acm_certificates_by_domain(stack)
        body = stack.aws("s3").get_object(Bucket=stack.env["ACMEVAULT_BUCKET"], Key=f"certificates/{name}/cert.pem")
        served = x509.load_pem_x509_certificate(body["Body"].read())
        assert served.extensions.get_extension_for_oid(CAN_SIGN_HTTP_EXCHANGES) is not None
        issued = [e for e in events_for(stack, name) if e["detail-type"] == "Certificate Issued"]
        assert len(issued) == 1 and issued[0]["detail"]["acm_arns"] == {}

        # and the CAA record is checked: a warning naming it where it is missing, none where it allows SXG
        if name == missing:
            assert len(view["warnings"]) == 1 and "cansignhttpexchanges=yes" in view["warnings"][0]
            assert f"{name}.example.com" in view["warnings"][0]
            assert issued[0]["detail"]["warnings"] == view["warnings"]
        else:
            assert view["warnings"] == [] and issued[0]["detail"]["warnings"] == []


def test_a_replacement_credential_keeps_the_directory_sxg(stack, cli, unique):
    # GIVEN an SXG directory
    directory = f"sxg-{unique}"
    sxg_directory(stack, cli, directory)
    # WHEN its credential is replaced (DigiCert: a new URL for the same product and settings)
    rotated = cli(
        "directory", "rotate", directory, "--url", stack.directory_url, "--eab-kid", "kid-2",
        stdin=stack.hmac("kid-2"),
    )  # fmt: skip
    # THEN the new credential is SXG too: its certificates still go to S3 only
    assert rotated.code == 0, rotated.err
    assert secret(stack, directory)["eab_kid"] == "kid-2" and secret(stack, directory)["sxg"] is True
