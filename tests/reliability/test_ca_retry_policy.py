"""The network layer's own retries (adapters.acme.network.Network), without a network: what is sent again, and when.

The fault-proxy suite shows the effect end to end; these pin the rules: a 5xx or 429 is tried again
(Retry-After honoured, a bounded wait in all), a lost connection only where sending again is harmless.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from acme import messages
from acmevault.adapters.acme import network as acme_network
from acmevault.adapters.acme.translation import translated
from acmevault.domain.errors import CaUnavailable
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

URL = "https://ca.example/acme/new-order"
PAYLOAD: Any = object()  # a JWS payload: anything but None (None is POST-as-GET)


def answer(status: int, retry_after: str | None = None, problem: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.url = URL
    if problem is not None:
        response.headers["Content-Type"] = "application/problem+json"
        response._content = json.dumps({"type": f"urn:ietf:params:acme:error:{problem}", "detail": "x"}).encode()
    else:
        response._content = b"<html>busy</html>"
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    if status < 400:
        response.headers["Replay-Nonce"] = "bm9uY2U"
    return response


def reset() -> requests.exceptions.ConnectionError:
    """The connection dropped after the request went out: the CA may have acted on it."""
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104)))


def refused() -> requests.exceptions.ConnectionError:
    """The connection never opened: nothing was sent."""
    reason = NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, URL, reason))  # type: ignore[arg-type]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(acme_network.time, "sleep", slept.append)
    return slept


def network(outcomes: list[Any]) -> tuple[Any, list[int]]:
    """A Network whose sends produce ``outcomes`` in turn (an answer is checked as the acme package checks it)."""
    net = acme_network.Network(key=None)
    sent: list[int] = []

    def post_once(url: str, obj: Any, **kwargs: Any) -> requests.Response:
        sent.append(1)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return net._check_response(outcome)

    net._post_once = post_once
    return net, sent


def test_a_5xx_burst_is_waited_out_with_backoff(sleeps):
    net, sent = network([answer(503), answer(502), answer(500, problem="serverInternal"), answer(200)])
    assert net.post(URL, PAYLOAD).status_code == 200
    assert len(sent) == 4
    assert len(sleeps) == 3 and sleeps[0] < sleeps[2] and sum(sleeps) < acme_network.TRANSIENT_MAX_WAIT


def test_retry_after_is_honoured(sleeps):
    net, _ = network([answer(429, retry_after="2", problem="rateLimited"), answer(200)])
    assert net.post(URL, PAYLOAD).status_code == 200
    assert sleeps == [2.0]


def test_a_retry_after_beyond_the_budget_goes_to_the_queue_at_once_with_its_wait(sleeps):
    net, sent = network([answer(429, retry_after="3600", problem="rateLimited")])
    with (
        pytest.raises(CaUnavailable, match="placing the order: rate limited by the CA") as raised,
        translated("placing the order", URL),
    ):
        net.post(URL, PAYLOAD)
    assert raised.value.retry_after == 3600.0
    assert len(sent) == 1 and sleeps == []


def test_a_burst_longer_than_the_retries_fails_the_attempt(sleeps):
    net, sent = network([answer(503)] * (acme_network.TRANSIENT_RETRIES + 1))
    with (
        pytest.raises(CaUnavailable, match="the CA answered HTTP 503"),
        translated("finalizing the order", URL),
    ):
        net.post(URL, PAYLOAD)
    assert len(sent) == acme_network.TRANSIENT_RETRIES + 1


def test_a_request_with_a_payload_is_not_sent_again_after_its_answer_was_lost(sleeps):
    # a newOrder sent again could place a second order; a finalize sent again is refused as not ready
    net, sent = network([reset(), answer(200)])
    with pytest.raises(requests.exceptions.ConnectionError):
        net.post(URL, PAYLOAD)
    assert len(sent) == 1


def test_a_read_is_sent_again_after_its_answer_was_lost(sleeps):
    net, sent = network([reset(), reset(), answer(200)])
    assert net.post(URL, None).status_code == 200  # POST-as-GET
    assert len(sent) == 3


def test_a_request_that_never_left_is_sent_again_whatever_it_carries(sleeps):
    net, sent = network([refused(), answer(200)])
    assert net.post(URL, PAYLOAD).status_code == 200
    assert len(sent) == 2


def test_tls_failures_and_refusals_are_not_retried(sleeps):
    net, sent = network([requests.exceptions.SSLError("certificate verify failed")])
    with pytest.raises(requests.exceptions.SSLError):
        net.post(URL, None)
    assert len(sent) == 1
    net, sent = network([answer(403, problem="unauthorized")])
    with pytest.raises(messages.Error, match="unauthorized"):
        net.post(URL, PAYLOAD)
    assert len(sent) == 1 and sleeps == []
