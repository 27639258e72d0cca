"""What the reliability tests share: services built as a container builds them, and reads of what is served."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

from acmevault.app.services import Services
from acmevault.composition.config import Settings
from acmevault.composition.services import build
from cryptography import x509


def fresh_services(stack: Any, **changes: Any) -> Services:
    """A new container's services (no cached sessions), with ``changes`` (a clock ahead, ...)."""
    return replace(build(Settings.from_env(stack.env)), **changes)


def vault(cli: Any, stack: Any, name: str, url: str, kid: str) -> None:
    result = cli("directory", "put", name, "--url", url, "--eab-kid", kid, stdin=stack.hmac(kid))
    assert result.code == 0, result.err


def define(cli: Any, name: str, directory: str) -> None:
    result = cli("cert", "put", name, "-d", domain(name), "--directory", directory)
    assert result.code == 0, result.err


def domain(name: str) -> str:
    return f"{name}.example.com"


def serial_of(pem: str) -> str:
    return format(x509.load_pem_x509_certificate(pem.encode()).serial_number, "x")


def served(stack: Any, name: str, arn: str | None) -> tuple[str | None, str | None, str | None]:
    """The serials ACM (at ``arn``), S3's cert.pem and S3's metadata.json serve for ``name`` right now."""
    acm_serial = None
    if arn is not None:
        acm_serial = serial_of(stack.aws("acm").get_certificate(CertificateArn=arn)["Certificate"])
    s3, bucket = stack.aws("s3"), stack.env["ACMEVAULT_BUCKET"]
    try:
        cert = s3.get_object(Bucket=bucket, Key=f"certificates/{name}/cert.pem")["Body"].read().decode()
        metadata = s3.get_object(Bucket=bucket, Key=f"certificates/{name}/metadata.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return acm_serial, None, None
    return acm_serial, serial_of(cert), str(json.loads(metadata)["serial"])


def s3_key_matches_certificate(stack: Any, name: str) -> bool:
    """privkey.pem and cert.pem in S3 belong together (the public keys are the same)."""
    from cryptography.hazmat.primitives import serialization

    s3, bucket = stack.aws("s3"), stack.env["ACMEVAULT_BUCKET"]
    cert = s3.get_object(Bucket=bucket, Key=f"certificates/{name}/cert.pem")["Body"].read()
    key = s3.get_object(Bucket=bucket, Key=f"certificates/{name}/privkey.pem")["Body"].read()
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    public = x509.load_pem_x509_certificate(cert).public_key().public_bytes(der, spki)
    private = serialization.load_pem_private_key(key, password=None).public_key().public_bytes(der, spki)
    return public == private


def acm_certificates_by_domain(stack: Any) -> dict[str, list[str]]:
    """Every ACM certificate (ARN) by its first name (moto drops tags on a re-import, so not by tag): each
    test certificate has a name of its own, and more than one ARN for it is a copy nobody serves."""
    acm = stack.aws("acm")
    key_types = ["EC_prime256v1", "EC_secp384r1", "RSA_2048", "RSA_3072", "RSA_4096"]
    found: dict[str, list[str]] = {}
    for page in acm.get_paginator("list_certificates").paginate(Includes={"keyTypes": key_types}):
        for summary in page["CertificateSummaryList"]:
            found.setdefault(summary["DomainName"], []).append(summary["CertificateArn"])
    return found


def orders_at_pebble(services: Services, directory: str) -> dict[str, str]:
    """Every order of the directory's account as Pebble lists it, with its status: counted, not guessed."""
    return {url: status for url, (status, _) in orders_with_names(services, directory).items()}


def orders_with_names(services: Services, directory: str) -> dict[str, tuple[str, str]]:
    """Every order of the directory's account: its status and its first identifier, as Pebble reports them."""
    session = services.accounts.session(directory)
    found = {}
    for url in session.order_urls():
        order = session._post_as_get(url).json()
        found[url] = (str(order["status"]), str(order["identifiers"][0]["value"]))
    return found


def figures(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])) if v) or "none"


def valid_orders_by_names(services: Services, directory: str) -> Counter[frozenset[str]]:
    """Valid orders of the directory's account by their set of identifiers, as Pebble reports them: one
    certificate issued per order, so a set counted more often than it was asked for is a duplicate."""
    session = services.accounts.session(directory)
    found: Counter[frozenset[str]] = Counter()
    for url in session.order_urls():
        order = session._post_as_get(url).json()
        if order["status"] == "valid":
            found[frozenset(str(i["value"]) for i in order["identifiers"])] += 1
    return found


def names_served(stack: Any, name: str) -> set[str]:
    """The DNS names of the certificate S3 serves for ``name``."""
    s3, bucket = stack.aws("s3"), stack.env["ACMEVAULT_BUCKET"]
    pem = s3.get_object(Bucket=bucket, Key=f"certificates/{name}/cert.pem")["Body"].read()
    san = x509.load_pem_x509_certificate(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return set(san.value.get_values_for_type(x509.DNSName))
