"""The parts of the HTTP API that need no network: errors → status, revocation reasons, credential bodies, and
the resolver with its dependencies swapped."""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from acmevault.app.revocation import RevocationReason
from acmevault.domain import errors
from acmevault.domain.directory import DirectoryCredential
from acmevault.entrypoints.http import dependencies
from acmevault.entrypoints.http.api import resolver
from acmevault.entrypoints.http.errors import status_for
from acmevault.entrypoints.http.idempotency import IdempotencyKeyReused
from acmevault.entrypoints.http.requests import PayloadTooLarge, UnsupportedMediaType

HMAC = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"  # made up, well-formed
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.ValidationError("domains", "bad"), 400),
        (errors.Forbidden("name", "not allowed"), 403),
        (PayloadTooLarge("body", "too big"), 413),
        (UnsupportedMediaType("Content-Type", "not JSON"), 415),
        (IdempotencyKeyReused("Idempotency-Key", "reused"), 422),
        (errors.CertificateNotFound("web"), 404),
        (errors.DirectoryNotFound("demo"), 404),
        (errors.ConflictError("exists"), 409),
        (errors.LeaseHeld("web"), 409),
        (errors.CaError("refused"), 422),
        (errors.CredentialRejected("bad EAB"), 422),
        (errors.AuthorizationRequired("a.example.com"), 422),
        (errors.CaUnavailable("down", retry_after=3), 503),
        (errors.AwsUnavailable("throttled"), 503),
        (errors.AwsError("AccessDenied"), 502),
        (errors.ConfigurationError("no table"), 500),
        (errors.AcmeVaultError("anything else"), 500),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_an_error_class_decides_its_status(error, status):
    assert status_for(error) == HTTPStatus(status)


def test_the_status_never_depends_on_the_message():
    assert status_for(errors.ConflictError("not found")) == HTTPStatus.CONFLICT
    assert status_for(errors.AcmeVaultError("validation_error: conflict")) == HTTPStatus.INTERNAL_SERVER_ERROR


def test_revocation_reasons_are_the_rfc_5280_codes_a_subscriber_may_give():
    assert {r.value: r.code for r in RevocationReason} == {
        "unspecified": 0,
        "keyCompromise": 1,
        "affiliationChanged": 3,
        "superseded": 4,
        "cessationOfOperation": 5,
    }
    assert RevocationReason.parse("superseded") is RevocationReason.SUPERSEDED


@pytest.mark.parametrize("value", [None, "", "KEYCOMPROMISE", "cACompromise", "certificateHold", 1, ["unspecified"]])
def test_anything_else_is_not_a_reason(value):
    with pytest.raises(errors.ValidationError) as raised:
        RevocationReason.parse(value)
    assert raised.value.field == "reason"


def test_a_credential_body_builds_a_credential():
    credential = DirectoryCredential.parse(
        {"directory_url": "https://acme.example.com/dir", "eab_kid": "kid", "eab_hmac_key": HMAC, "contact": []}
    )
    assert credential.eab_hmac_alg == "HS256" and credential.account_key is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({}, "directory_url"),
        ({"directory_url": "https://a.example/", "account_url": "https://a.example/acct/1"}, "account_url"),
        ({"directory_url": 5}, "directory_url"),
        ({"directory_url": "https://a.example/", "eab_kid": 5, "eab_hmac_key": HMAC}, "eab_kid"),
        ({"directory_url": "https://a.example/", "eab_kid": "k", "eab_hmac_key": 5}, "eab_hmac_key"),
        ({"directory_url": "https://a.example/", "eab_hmac_alg": 256}, "eab_hmac_alg"),
        ({"directory_url": "https://a.example/", "contact": "mailto:a@example.com"}, "contact"),
    ],
)
def test_a_bad_credential_body_names_the_field_and_never_the_key(body, field):
    with pytest.raises(errors.ValidationError) as raised:
        DirectoryCredential.parse(body)
    assert raised.value.field == field
    assert HMAC not in raised.value.message


def test_what_a_dependency_raises_is_answered_as_if_the_route_had_raised_it():
    """Routes get their services through Powertools' Depends; a test swaps a provider on the resolver."""
    app = resolver()

    def throttled() -> Any:
        raise errors.AwsUnavailable("DynamoDB throttled the request", retry_after=7)

    app.dependency_overrides[dependencies.services] = throttled
    request = json.loads((ROOT / "events" / "api-get-directories.json").read_text())
    answer = app.resolve(request, None)
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["error"] == "aws_unavailable"
    assert answer["multiValueHeaders"]["Retry-After"] == ["7"]


def test_an_unknown_route_is_a_404_in_the_error_format_without_touching_anything():
    request = json.loads((ROOT / "events" / "api-get-directories.json").read_text())
    request["path"] = "/nowhere/Secret_Value"
    answer = resolver().resolve(request, None)
    assert answer["statusCode"] == 404
    assert json.loads(answer["body"]) == {
        "error": "not_found",
        "message": "no route GET /nowhere/<12 characters> (routes: openapi.yaml)",
    }
