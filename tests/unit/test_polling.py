"""The one polling loop: Retry-After is honoured; without it, back off from a few milliseconds."""

from __future__ import annotations

import itertools
import time

import pytest
import requests
from acmevault.adapters.acme import polling
from acmevault.domain.errors import CaUnavailable


def _response(retry_after: str | None) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


@pytest.fixture
def sleeps(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(polling.time, "sleep", slept.append)
    return slept


def _poll(answers, deadline=None):
    remaining = iter(answers)
    return polling.poll(
        lambda: next(remaining),
        lambda v: v == "done",
        deadline or time.monotonic() + 60,
        "order",
        "https://ca.example/dir",
    )


def test_retry_after_seconds_are_waited(sleeps):
    assert _poll([("processing", _response("3")), ("done", _response(None))]) == "done"
    assert sleeps == [polling.FIRST_POLL_DELAY, 3.0]


def test_without_retry_after_the_delay_doubles_from_milliseconds(sleeps):
    answers = [("pending", _response(None))] * 4 + [("done", _response(None))]
    _poll(answers)
    assert sleeps[0] < 0.01
    assert all(b == min(a * 2, polling.MAX_POLL_DELAY) for a, b in itertools.pairwise(sleeps))


def test_an_http_date_retry_after_is_understood(sleeps):
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 5))
    _poll([("processing", _response(date)), ("done", _response(None))])
    assert 3.5 < sleeps[1] <= 5.0


def test_a_retry_after_past_the_deadline_gives_up_with_a_clear_error(sleeps):
    with pytest.raises(CaUnavailable, match="timed out waiting for order"):
        _poll([("processing", _response("120"))], deadline=time.monotonic() + 10)
