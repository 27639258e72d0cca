"""ARI (RFC 9773) planning against recorded renewalInfo responses (Pebble 2.4.0 serves no ARI), read as the
ACME adapter reads them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from acmevault.adapters.acme.translation import renewal_info_from
from acmevault.domain import ari
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def response(start: str, end: str) -> dict[str, object]:
    # the shape Let's Encrypt and the RFC's examples send
    return {"suggestedWindow": {"start": start, "end": end}, "explanationURL": "https://ca.example/why"}


def planned(document: object, retry_after: float | None, now: datetime, rng: random.Random) -> ari.RenewalPlan:
    return ari.plan(renewal_info_from(document, retry_after), now, rng)


def test_the_rfc_example_certificate_id():
    # RFC 9773 §4.1: AKI keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4, serial 0x87654321
    key = ec.generate_private_key(ec.SECP256R1())
    aki = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "example.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x87654321)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=90))
        .add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
        .sign(key, hashes.SHA256())
    )
    assert ari.certificate_id(cert) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"


def test_a_time_inside_the_window_and_retry_after_honoured():
    plan = planned(response("2026-12-20T00:00:00Z", "2026-12-22T00:00:00Z"), 21600, NOW, random.Random(1))
    assert datetime(2026, 12, 20, tzinfo=UTC) <= plan.renew_at <= datetime(2026, 12, 22, tzinfo=UTC)
    assert plan.check_again_at == NOW + timedelta(hours=6)


def test_times_are_spread_over_the_window():
    times = {
        planned(response("2026-12-20T00:00:00Z", "2026-12-22T00:00:00Z"), None, NOW, random.Random(i)).renew_at
        for i in range(20)
    }
    assert len(times) == 20


def test_a_window_in_the_past_means_renew_now():
    plan = planned(response("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"), 3600, NOW, random.Random(0))
    assert plan.renew_at == NOW


def test_a_window_that_has_begun_picks_a_time_from_now_on():
    plan = planned(response("2026-11-20T00:00:00Z", "2026-11-28T00:00:00Z"), None, NOW, random.Random(0))
    assert NOW <= plan.renew_at <= datetime(2026, 11, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    "document",
    [
        response("2026-12-22T00:00:00Z", "2026-12-20T00:00:00Z"),  # end before start
        response("2026-12-20T00:00:00Z", "2026-12-20T00:00:00Z"),  # empty
        response("not a time", "2026-12-20T00:00:00Z"),
        response("2026-12-20T00:00:00", "2026-12-22T00:00:00"),  # no time zone
        {"suggestedWindow": {"start": "2026-12-20T00:00:00Z"}},
        {},
        [],
    ],
)
def test_an_invalid_window_is_an_error_checked_again_in_six_hours(document):
    plan = ari.plan(renewal_info_from(document, 60), NOW, random.Random(0))
    assert plan.renew_at is None
    assert plan.check_again_at == NOW + timedelta(hours=6)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (0, timedelta(minutes=1)),
        (30, timedelta(minutes=1)),
        (7200, timedelta(hours=2)),
        (10 * 86400, timedelta(days=1)),
        (None, timedelta(hours=6)),
    ],
)
def test_retry_after_is_clamped_to_a_minute_and_a_day(retry_after, expected):
    plan = planned(response("2026-12-20T00:00:00Z", "2026-12-22T00:00:00Z"), retry_after, NOW, random.Random(0))
    assert plan.check_again_at == NOW + expected
