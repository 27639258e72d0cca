"""Between certbot's ``acme`` package and acmevault: its messages read into acmevault's values
(:mod:`acmevault.domain.orders`, :class:`acmevault.domain.ari.RenewalInfo`), and every vendor error
(``acme``, ``josepy``, ``requests``) turned into an acmevault error naming the action (:func:`translated`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from acme import challenges, messages
from acme import errors as acme_errors
from josepy.errors import DeserializationError
from josepy.interfaces import JSONDeSerializable
from josepy.json_util import field
from josepy.jwk import JWK

from acmevault.adapters.acme.network import TransientAnswer, retry_after
from acmevault.domain.ari import RenewalInfo
from acmevault.domain.errors import AcmeVaultError, CaError, CaUnavailable, ca_problem
from acmevault.domain.orders import Authorization, AuthorizationStatus, DnsChallenge, Order, OrderStatus

# -- errors ---------------------------------------------------------------------------------------


@contextmanager
def translated(action: str, directory_url: str) -> Iterator[None]:
    """Turn what acme and requests raise into acmevault errors naming the action.

    CaUnavailable: the CA could not be reached, failed (5xx, serverInternal) or rate-limited (with its
    Retry-After); a typed CA problem (``ca_problem``: AlreadyRevoked, Unauthorized, ... or CaError) when
    it refused, the library error as the cause; CaError when its answer is not understood. The acme
    package's ConflictError ("this key has an account") passes through, for the caller to handle.
    """
    try:
        yield
    except (AcmeVaultError, acme_errors.ConflictError):
        raise  # ours already, or an "account exists" answer the caller handles
    except TransientAnswer as answer:
        # 5xx or 429 still, after the network layer's retries: the queue tries again later
        problem = answer.error
        if isinstance(problem, messages.Error) and problem.code == "rateLimited":
            text = f"rate limited by the CA: {problem_text(problem)}"
        elif isinstance(problem, messages.Error):
            text = f"the CA failed (HTTP {answer.status}): {problem_text(problem)}"
        else:
            text = f"the CA answered HTTP {answer.status}"
        raise CaUnavailable(f"{action}: {text}", answer.retry_after) from None
    except messages.Error as error:
        detail = problem_text(error)
        if error.code == "rateLimited":
            raise CaUnavailable(f"{action}: rate limited by the CA: {detail}") from None
        if error.code in ("serverInternal",):
            raise CaUnavailable(f"{action}: the CA failed: {detail}") from None
        raise ca_problem(f"{action}: the CA refused ({error.code}): {detail}", error.code) from error
    except requests.exceptions.SSLError:
        raise CaUnavailable(
            f"{action}: TLS verification failed for {directory_url} (is REQUESTS_CA_BUNDLE right?)"
        ) from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
        raise CaUnavailable(f"{action}: cannot reach the CA at {directory_url}") from None
    except acme_errors.ClientError as error:
        response = error.args[0] if error.args and isinstance(error.args[0], requests.Response) else None
        status = getattr(response, "status_code", None)
        if status is not None and (status >= 500 or status == 429):
            raise CaUnavailable(f"{action}: the CA answered HTTP {status}", retry_after(response)) from None
        raise CaError(f"{action}: unexpected answer from the CA" + (f" (HTTP {status})" if status else "")) from None
    except (acme_errors.Error, DeserializationError, ValueError) as error:
        raise CaError(f"{action}: unexpected answer from the CA: {type(error).__name__}") from None


def problem_text(error: messages.Error) -> str:
    """A problem document for people: its detail (or description, or type), with each subproblem's."""
    text = error.detail or error.description or error.typ
    for sub in getattr(error, "subproblems", None) or ():
        ident = getattr(sub.identifier, "value", None)
        text += f"; {ident}: {sub.detail}"
    return str(text)


# -- the CA's answers, read --------------------------------------------------------------------------


def order_from(url: str, body: messages.Order, csr_pem: bytes, authorizations: tuple[Authorization, ...] = ()) -> Order:
    """An order body as acmevault reads it; ValueError when it lacks what RFC 8555 requires of it."""
    if body.finalize is None:
        raise ValueError("the order has no finalize URL")
    return Order(
        url=url,
        status=OrderStatus(_status(body.status)),
        identifiers=tuple(str(i.value) for i in body.identifiers or ()),
        finalize_url=str(body.finalize),
        csr_pem=csr_pem,
        authorization_urls=tuple(str(a) for a in body.authorizations or ()),
        authorizations=authorizations,
        certificate_url=None if body.certificate is None else str(body.certificate),
        error=None if body.error is None else problem_text(body.error),
    )


def authorization_from(url: str, body: messages.Authorization, account_key: JWK) -> Authorization:
    """An authorization as acmevault reads it, with its dns-01 challenge worked out for ``account_key``."""
    identifier = str(body.identifier.value)
    challenge = None
    for challb in body.challenges or ():
        if isinstance(challb.chall, challenges.DNS01):
            challenge = DnsChallenge(
                url=str(challb.uri),
                token=str(challb.chall.encode("token")),
                domain=identifier,
                record_name=challb.chall.validation_domain_name(identifier),
                record_value=challb.chall.validation(account_key),
                authorization_url=url,
            )
            break
    return Authorization(
        url=url,
        identifier=identifier,
        wildcard=bool(body.wildcard),
        status=AuthorizationStatus(_status(body.status)),
        dns_challenge=challenge,
    )


def challenge_body(challenge: DnsChallenge) -> messages.ChallengeBody:
    """The acme package's challenge for a DnsChallenge read earlier: what ``answer_challenge`` posts to."""
    body: messages.ChallengeBody = messages.ChallengeBody.from_json(
        {"type": challenges.DNS01.typ, "url": challenge.url, "token": challenge.token, "status": "pending"}
    )
    return body


def renewal_info_from(document: Any, retry_after_seconds: float | None) -> RenewalInfo:
    """A renewalInfo answer (RFC 9773 §4.2) with its Retry-After; a window that is missing or not made
    of times reads as no window (``ari.plan`` treats that as an error: ask again later)."""
    try:
        window = messages.RenewalInfo.from_json(document).suggested_window
    except (DeserializationError, TypeError, ValueError, AttributeError):
        return RenewalInfo(None, None, retry_after_seconds)
    return RenewalInfo(window.start, window.end, retry_after_seconds)


def _status(status: messages.Status | None) -> str:
    if status is None:
        raise ValueError("no status")
    return str(status.name)


# -- request bodies the acme package has no message class for -----------------------------------------


class JsonBody(JSONDeSerializable):
    """A JSON body the acme package has no message class for (key change, deactivation, lookup)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_partial_json(self) -> dict[str, Any]:
        """The body as given."""
        return self.data

    @classmethod
    def from_json(cls, jobj: Any) -> JsonBody:
        """A body read back (the acme package's interface asks for it)."""
        return cls(dict(jobj))


class ReplacingOrder(messages.NewOrder):
    """newOrder with the ARI "replaces" field (omitted when None), which the acme package does not know yet."""

    replaces: str | None = field("replaces", omitempty=True)
