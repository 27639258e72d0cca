"""Real ACM's import rules in front of moto: a small HTTP proxy the local stack puts on its AWS endpoint.

moto's ImportCertificate takes what real ACM refuses: a re-import that changes the key type, carries
tags, drops a Key Usage, or a key that does not match the certificate. acmevault must never depend on
that leniency, so the local stack (``acmevault local up``, ``make demo``, every test) answers
``AWS_ENDPOINT_URL`` here, and this process passes each request on to moto unchanged, except an
ImportCertificate that breaks one of ACM's documented rules, which it refuses as ACM does
(HTTP 400, ``{"__type": "ValidationException", "message": ...}``):

- on every import: one certificate in ``Certificate``; an unencrypted private key of at most 5 KB,
  of a type ACM imports (RSA 1024-4096, EC P-256/P-384/P-521), that matches the certificate; the
  certificate valid now (not before <= now < not after);
- on a re-import (``CertificateArn`` given): no ``Tags``; the same key algorithm and size as the
  certificate it replaces; no Key Usage or Extended Key Usage value of that certificate missing,
  except keyEncipherment on an EC key and clientAuth.

It also runs DynamoDB's writes one at a time: moto evaluates a ConditionExpression and writes without
a lock, so two racing conditional writes could both succeed, where DynamoDB makes each atomic (a lease
race test flaked on that, more often behind this proxy).

A proxy rather than a botocore hook: it covers every client without a line in the code under test,
including the CLI and handlers run in other processes. It is local tooling only (no function imports
it). Standard library plus ``cryptography``:

    python -m acmevault_cli.local.acm --upstream http://127.0.0.1:PORT [--host 127.0.0.1] [--port 14566]
"""

from __future__ import annotations

import argparse
import base64
import binascii
import http.client
import json
import signal
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

IMPORT_TARGET = "CertificateManager.ImportCertificate"
GET_TARGET = "CertificateManager.GetCertificate"
DYNAMODB_WRITES = {
    f"DynamoDB_20120810.{operation}"
    for operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
}
MAX_PRIVATE_KEY_BYTES = 5 * 1024
RSA_SIZES = (1024, 2048, 3072, 4096)
EC_CURVES = ("secp256r1", "secp384r1", "secp521r1")
# Extended Key Usage a re-import may drop (ACM's documented exception).
DROPPABLE_EKU = {x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH}
_HOP_BY_HOP = {
    "connection",
    "expect",  # answered here (100 Continue) before the body is read
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


class Refused(Exception):
    """An import real ACM would refuse: its message is what ACM would say."""


# -- the rules -----------------------------------------------------------------------------------


def check_import(request: Mapping[str, Any], previous: x509.Certificate | None, now: datetime) -> None:
    """Raise Refused when ACM would refuse this ImportCertificate request (its JSON body, blobs in base64);
    ``previous`` is the certificate at ``CertificateArn`` for a re-import, None otherwise."""
    if request.get("CertificateArn") and "Tags" in request:
        raise Refused("Tagging is not permitted on re-import.")
    certificate_pem = _blob(request, "Certificate")
    if certificate_pem.count(b"-----BEGIN CERTIFICATE-----") != 1:
        raise Refused(
            "The certificate field contains more than one certificate. You can specify only one certificate in "
            "this field."
        )
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        raise Refused("Could not parse the certificate: it is not a PEM-encoded X.509 certificate.") from None
    key_pem = _blob(request, "PrivateKey")
    if len(key_pem) > MAX_PRIVATE_KEY_BYTES:
        raise Refused(f"The private key is {len(key_pem)} bytes; the maximum is {MAX_PRIVATE_KEY_BYTES} bytes.")
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise Refused("The private key is not supported: it must be an unencrypted PEM private key.") from None
    kind = _key_kind(key.public_key())
    if kind is None:
        raise Refused(
            "The private key is not supported. Only RSA 1024 to 4096-bit and EC P-256, P-384 and P-521 keys are "
            "allowed."
        )
    if _spki(key.public_key()) != _spki(certificate.public_key()):
        raise Refused("The private key does not match the public key in the certificate.")
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
        raise Refused(
            f"The certificate is not valid now: it is valid from {certificate.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} "
            f"to {certificate.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}."
        )
    if previous is not None:
        _check_reimport(certificate, kind, previous)


def _check_reimport(certificate: x509.Certificate, kind: str, previous: x509.Certificate) -> None:
    was = _key_kind(previous.public_key())
    if kind != was:
        raise Refused(
            f"The certificate being re-imported has a {kind} key; the certificate it replaces has a {was} key. "
            "The key algorithm and size cannot change on re-import."
        )
    dropped = _key_usages(previous) - _key_usages(certificate)
    if kind.startswith("EC"):
        dropped.discard("keyEncipherment")
    if dropped:
        raise Refused(
            "The certificate being re-imported lacks Key Usage value(s) of the certificate it replaces: "
            + ", ".join(sorted(dropped))
        )
    missing = _extended_key_usages(previous) - _extended_key_usages(certificate) - DROPPABLE_EKU
    if missing:
        names = sorted(getattr(oid, "_name", None) or oid.dotted_string for oid in missing)
        raise Refused(
            "The certificate being re-imported lacks Extended Key Usage value(s) of the certificate it replaces: "
            + ", ".join(names)
        )


def _blob(request: Mapping[str, Any], field: str) -> bytes:
    value = request.get(field)
    if not isinstance(value, str) or not value:
        raise Refused(f"{field} is required.")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(f"{field} is not base64.") from None


def _key_kind(public_key: Any) -> str | None:
    """ACM's name of the key type (RSA_2048, EC_prime256v1, ...), None for a type ACM does not import."""
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size in RSA_SIZES:
        return f"RSA_{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name in EC_CURVES:
        return "EC_prime256v1" if public_key.curve.name == "secp256r1" else f"EC_{public_key.curve.name}"
    return None


def _spki(public_key: Any) -> bytes:
    return bytes(public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


_KEY_USAGE_NAMES = {
    "digital_signature": "digitalSignature",
    "content_commitment": "nonRepudiation",
    "key_encipherment": "keyEncipherment",
    "data_encipherment": "dataEncipherment",
    "key_agreement": "keyAgreement",
    "key_cert_sign": "keyCertSign",
    "crl_sign": "cRLSign",
}


def _key_usages(certificate: x509.Certificate) -> set[str]:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return set()
    found = {name for attribute, name in _KEY_USAGE_NAMES.items() if getattr(usage, attribute)}
    if usage.key_agreement:  # encipher_only and decipher_only are defined only with keyAgreement
        found |= {name for name in ("encipher_only", "decipher_only") if getattr(usage, name)}
    return found


def _extended_key_usages(certificate: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        return set(certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return set()


# -- the proxy -----------------------------------------------------------------------------------


class StrictAcmProxy(ThreadingHTTPServer):
    """Passes every request to ``upstream`` (moto); refuses the ImportCertificate requests ACM would."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 drops connections when twenty workers call at once

    def __init__(self, host: str, port: int, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.dynamodb_writes = threading.Lock()
        super().__init__((host, port), _Handler)

    def forward(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, list[Any], bytes]:
        """One request to moto on a connection of its own (never retried: it may have been acted on)."""
        connection = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
            sent["Content-Length"] = str(len(body))
            sent["Connection"] = "close"
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def previous_certificate(self, headers: Mapping[str, str], arn: str) -> x509.Certificate | None:
        """The certificate now at ``arn``, asked of moto as the caller (same region and account), or None."""
        ask = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": GET_TARGET,
            **{k: v for k, v in headers.items() if k.lower() in ("authorization", "x-amz-date", "host")},
        }
        status, _, body = self.forward("POST", "/", ask, json.dumps({"CertificateArn": arn}).encode())
        if status != 200:
            return None  # moto answers the import itself (ResourceNotFoundException, as ACM does)
        pem = json.loads(body).get("Certificate")
        return x509.load_pem_x509_certificate(pem.encode()) if pem else None


class _Handler(BaseHTTPRequestHandler):
    server: StrictAcmProxy
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # every AWS call of a test run would land in the log

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _relay(self) -> None:
        body = self._body()
        headers = dict(self.headers.items())
        try:
            target = self.headers.get("X-Amz-Target")
            if target == IMPORT_TARGET:
                self._check(headers, body)
            if target in DYNAMODB_WRITES:
                with self.server.dynamodb_writes:
                    status, response_headers, response_body = self.server.forward(
                        self.command, self.path, headers, body
                    )
            else:
                status, response_headers, response_body = self.server.forward(self.command, self.path, headers, body)
        except Refused as refused:
            status, response_headers = 400, [("Content-Type", "application/x-amz-json-1.1")]
            response_body = json.dumps({"__type": "ValidationException", "message": str(refused)}).encode()
        except OSError as error:
            status, response_headers = 502, [("Content-Type", "application/json")]
            message = f"strict ACM proxy: moto did not answer ({type(error).__name__})"
            response_body = json.dumps({"message": message}).encode()
        self._answer(status, response_headers, response_body)

    def _check(self, headers: Mapping[str, str], body: bytes) -> None:
        try:
            request = json.loads(body)
        except ValueError:
            return  # moto answers a malformed request itself
        arn = request.get("CertificateArn") if isinstance(request, dict) else None
        previous = self.server.previous_certificate(headers, arn) if isinstance(arn, str) and arn else None
        check_import(request, previous, datetime.now(UTC))

    def _answer(self, status: int, headers: list[Any], body: bytes) -> None:
        self.send_response(status)
        length = str(len(body))
        for name, value in headers:
            if name.lower() == "content-length" and self.command == "HEAD":
                length = value  # a HEAD answer says how long the body would be
            elif name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    # BaseHTTPRequestHandler calls do_<METHOD>: every method is relayed the same way.
    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _relay  # noqa: N815


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acmevault_cli.local.acm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=14566)
    parser.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:14567")
    args = parser.parse_args(argv)
    server = StrictAcmProxy(args.host, args.port, args.upstream)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"strict ACM proxy on {args.host}:{args.port} -> {args.upstream}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
