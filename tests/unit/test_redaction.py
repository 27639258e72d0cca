"""The log redaction filter blanks secret-looking values and leaves the useful ones alone."""

import base64
import io
import json
import logging
import sys

from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.redaction import REDACTED, SHORTEST_SECRET, looks_secret, redact
from acmevault.entrypoints.runtime import lambda_logger

HMAC = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----"


def test_hmac_keys_and_private_keys_are_blanked():
    assert HMAC not in redact(f"eab_hmac_key={HMAC}")
    assert "PRIVATE KEY" not in redact(f"key: {PEM} end")
    assert "PRIVATE KEY" not in redact(json.dumps({"key": PEM}))  # escaped newlines, as in JSON logs
    assert "PRIVATE KEY" not in redact("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE")  # cut short


def test_what_people_need_is_kept():
    kept = [
        "arn:aws:acm:us-east-1:123456789012:certificate/0ab942b8-e90e-442c-be75-319cdedee4f7",
        "serial 3db68e7d7268f031a4c2e0b1d9f8e7c6b5a49382",
        "https://127.0.0.1:14000/my-account/13e2a0f6b735f2",
        "certificate web (www.example.com) issued",
        "d040d37a-f16f-4357-a19b-05930ccefd0e",
    ]
    for text in kept:
        assert redact(text) == text


def test_the_lambda_logger_writes_through_the_filter(monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    # only the Lambda handler's stream is under test: keep the raw records from the test runner's capture
    monkeypatch.setattr(logging.getLogger("acmevault"), "propagate", False)
    logger = lambda_logger()
    logger.info("oops", extra={"value": HMAC})
    logging.getLogger("acmevault.test").warning("also %s", PEM)
    written = sys.stdout.getvalue()
    assert REDACTED in written
    assert HMAC not in written
    assert "PRIVATE KEY" not in written


def test_the_shortest_hmac_key_the_model_accepts_is_blanked():
    # 16 bytes, the least DirectoryCredential takes, are 22 base64url characters
    shortest = base64.urlsafe_b64encode(bytes(range(16))).decode().rstrip("=")
    assert len(shortest) == SHORTEST_SECRET == 22
    assert shortest not in redact(f"hmac {shortest} end")
    assert "AbCdEfGh1234567890XyZ_" not in redact("AbCdEfGh1234567890XyZ_")


def test_a_key_the_model_accepted_is_blanked_whatever_its_shape():
    no_digit = "QvRtLmWpZsKdYhNbJfCgTx"  # 22 characters, 16 bytes, no digit: the shape alone misses it
    assert redact(no_digit) == no_digit
    DirectoryCredential("https://ca.example/dir", "kid", no_digit)
    assert no_digit not in redact(f"eab_hmac_key={no_digit}")
    assert looks_secret(no_digit)


def test_error_codes_and_names_are_not_mistaken_for_keys():
    for text in ("ResourceNotFoundException", "ConditionalCheckFailedException", "certificate-web-2026-12-01"):
        assert redact(text) == text
