"""The one polling loop for an order or an authorization the CA is still working on.

The acme package's ``poll_authorizations``/``poll_finalization`` sleep a fixed second; this one
honours the CA's Retry-After and otherwise backs off from a few milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import requests

from acmevault.adapters.acme.network import retry_after as retry_after_of
from acmevault.adapters.acme.translation import translated
from acmevault.domain.errors import AcmeVaultError, CaUnavailable

FIRST_POLL_DELAY = 0.005
MAX_POLL_DELAY = 2.0

T = TypeVar("T")


def poll(
    fetch: Callable[[], tuple[T, requests.Response]],
    done: Callable[[T], bool],
    deadline: float,
    what: str,
    directory_url: str,
    retry_after: float | None = None,
    first: T | None = None,
    out_of_time: Callable[[T, float], AcmeVaultError] | None = None,
) -> T:
    """Fetch until ``done``: wait Retry-After when the CA gives one, else back off from 5 ms.

    ``deadline`` is a ``time.monotonic()`` time. Past it, ``out_of_time`` (given the last value seen,
    from ``first``, and the wait the CA asked for) says what to raise; by default CaUnavailable.
    What ``fetch`` raises is translated (:func:`translated`).
    """
    delay = FIRST_POLL_DELAY
    wait = retry_after if retry_after is not None else delay
    last = first
    while True:
        if time.monotonic() + wait > deadline:
            if out_of_time is not None and last is not None:
                raise out_of_time(last, wait)
            raise CaUnavailable(f"timed out waiting for {what}", retry_after=wait)
        time.sleep(wait)
        with translated(f"polling {what}", directory_url):
            value, response = fetch()
        last = value
        if done(value):
            return value
        delay = min(delay * 2, MAX_POLL_DELAY)
        hinted = retry_after_of(response)
        wait = hinted if hinted is not None else delay
