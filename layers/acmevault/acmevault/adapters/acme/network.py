"""The ACME wire: certbot's ``ClientNetwork`` (JWS, nonces), trying again within one request what is worth it.

* badNonce (CAs reject nonces at will): up to BAD_NONCE_RETRIES times, at once.
* 5xx and 429 answers (the CA did not act), and a lost connection where sending again is harmless
  (GET, POST-as-GET, or a connection that never opened): up to TRANSIENT_RETRIES times, waiting the
  CA's Retry-After or a short backoff, TRANSIENT_MAX_WAIT seconds at most in all. A newOrder,
  finalize or challenge answer whose answer was lost is not sent again (that could place a second
  order, or be refused as not ready): the attempt fails and the next one resumes the recorded order.

A blip then costs no failed attempt (no queue round trip, alert or retry delay) and does not leave an
order placed but unrecorded. Longer outages, and a Retry-After beyond the budget, are the queue's to wait
out: what is still failing is raised (:class:`TransientAnswer`, or the ``requests`` error), and
:func:`acmevault.adapters.acme.translation.translated` words it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from acme import client, messages
from acme import errors as acme_errors
from urllib3.exceptions import NewConnectionError

log = logging.getLogger(__name__)
# The acme package logs whole JWS bodies at DEBUG; nothing of ours needs them.
logging.getLogger("acme").setLevel(logging.WARNING)

USER_AGENT = "acmevault/0.1 (+https://github.com/acmevault/acmevault)"
NETWORK_TIMEOUT = 20  # seconds to connect, and to wait for each answer
BAD_NONCE_RETRIES = 10
TRANSIENT_RETRIES = 3
TRANSIENT_FIRST_DELAY = 0.1  # seconds, doubling, with jitter
TRANSIENT_MAX_WAIT = 5.0  # seconds one request may wait in all: well inside the handler's safety margin

_JITTER = random.Random()  # noqa: S311 - spreads retries out; no secret comes of it


class TransientAnswer(Exception):
    """The CA answered 5xx or 429: it did not act, try later. Raised by Network, worded by ``translated``."""

    def __init__(self, error: Exception, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.error = error
        self.status = response.status_code
        self.retry_after = retry_after(response)


class Network(client.ClientNetwork):
    """ClientNetwork that tries again what is worth trying again, within one request (see the module)."""

    @classmethod
    def _check_response(cls, response: requests.Response, content_type: str | None = None) -> requests.Response:
        try:
            return super()._check_response(response, content_type=content_type)
        except (messages.Error, acme_errors.ClientError) as error:
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientAnswer(error, response) from error
            raise

    def get(
        self, url: str, content_type: str = client.ClientNetwork.JSON_CONTENT_TYPE, **kwargs: Any
    ) -> requests.Response:
        """GET, sent again after a 5xx, a 429 or a lost connection."""
        return self._retrying(lambda: super(Network, self).get(url, content_type=content_type, **kwargs), True)

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        """A signed POST with a fresh nonce after badNonce; a POST-as-GET (a read) is also sent again like GET."""
        as_get = (args[1] if len(args) > 1 else kwargs.get("obj")) is None
        return self._retrying(lambda: self._post_with_nonce_retries(*args, **kwargs), as_get)

    def _post_with_nonce_retries(self, *args: Any, **kwargs: Any) -> requests.Response:
        for _ in range(BAD_NONCE_RETRIES):
            try:
                return self._post_once(*args, **kwargs)
            except messages.Error as error:
                if error.code != "badNonce":
                    raise
                log.debug("badNonce, retrying with a fresh nonce")
        return self._post_once(*args, **kwargs)

    @staticmethod
    def _retrying(send: Callable[[], requests.Response], repeatable: bool) -> requests.Response:
        waited, delay = 0.0, TRANSIENT_FIRST_DELAY
        for retry in range(TRANSIENT_RETRIES + 1):
            failure: Exception
            try:
                return send()
            except TransientAnswer as answer:
                failure = answer
                wait = answer.retry_after if answer.retry_after is not None else delay * (0.5 + _JITTER.random())
            except requests.exceptions.ConnectionError as error:
                if isinstance(error, requests.exceptions.SSLError) or not (repeatable or _never_sent(error)):
                    raise
                failure, wait = error, delay * (0.5 + _JITTER.random())
            if retry == TRANSIENT_RETRIES or waited + wait > TRANSIENT_MAX_WAIT:
                raise failure
            log.debug("the CA is failing for now (%s); trying again in %.2f s", failure, wait)
            time.sleep(wait)
            waited, delay = waited + wait, delay * 2
        raise AssertionError("unreachable")


def _never_sent(error: requests.exceptions.ConnectionError) -> bool:
    """The connection failed before the request went out (refused, or it timed out while connecting)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


def retry_after(response: requests.Response | None) -> float | None:
    """The answer's Retry-After in seconds (given as seconds or as an HTTP date); None without one."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
