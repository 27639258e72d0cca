"""The ACME conversation (RFC 8555) with one account at one directory.

Built on certbot's ``acme`` package for messages and JWS, with our own polling:
the library's ``poll_authorizations``/``poll_finalization`` sleep a fixed second,
we honour Retry-After and otherwise back off from a few milliseconds. Every
vendor error (``acme``, ``requests``) becomes an acmevault error here.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests
from acme import challenges, client, crypto_util, jws, messages
from acme import errors as acme_errors
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.errors import DeserializationError
from josepy.interfaces import JSONDeSerializable
from josepy.json_util import field
from josepy.jwa import ES256, ES384, ES512, RS256, JWASignature
from josepy.jwk import JWK, JWKEC, JWKRSA
from urllib3.exceptions import NewConnectionError

from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import (
    AccountDoesNotExist,
    AcmeVaultError,
    AuthorizationRequired,
    AwaitingCa,
    BadPublicKey,
    CaError,
    CaUnavailable,
    ChallengeFailed,
    CredentialRejected,
    ExternalAccountRequired,
    Malformed,
    Unauthorized,
    ca_problem,
)

log = logging.getLogger(__name__)
# The acme package logs whole JWS bodies at DEBUG; nothing of ours needs them.
logging.getLogger("acme").setLevel(logging.WARNING)

USER_AGENT = "acmevault/0.1 (+https://github.com/acmevault/acmevault)"
BAD_NONCE_RETRIES = 10
# A CA's "not now" (5xx, 429) or a lost connection is tried again within the request, briefly: a blip
# then costs no failed attempt (no queue round trip, alert or retry delay) and does not leave an order
# placed but unrecorded. Longer outages, and a Retry-After beyond the budget, are the queue's to wait out.
TRANSIENT_RETRIES = 3
TRANSIENT_FIRST_DELAY = 0.1  # seconds, doubling, with jitter
TRANSIENT_MAX_WAIT = 5.0  # seconds one request may wait in all: well inside the handler's safety margin
FIRST_POLL_DELAY = 0.005
MAX_POLL_DELAY = 2.0
# An order still "processing" after this long is waiting for a person (DigiCert approval, an OV/EV
# check): the worker hands it back (AwaitingCa) and returns later instead of sleeping in Lambda.
PROCESSING_PATIENCE = 60.0
NETWORK_TIMEOUT = 20

T = TypeVar("T")


@dataclass(frozen=True)
class DnsChallenge:
    """What must be published for one pending authorization."""

    domain: str  # the identifier, without "*."
    record_name: str  # _acme-challenge.<domain>
    record_value: str
    authorization_url: str
    challenge: messages.ChallengeBody


@dataclass(frozen=True)
class PlacedOrder:
    """An order as newOrder answered it: its URL and body, before its authorizations are fetched."""

    url: str
    body: messages.Order
    csr_pem: bytes


@dataclass(frozen=True)
class Order:
    """An order with its authorizations fetched: what the challenges are answered from."""

    url: str
    resource: messages.OrderResource
    authorizations: tuple[messages.AuthorizationResource, ...]

    def pending(self) -> list[messages.AuthorizationResource]:
        """The authorizations still to prove (not valid yet)."""
        return [a for a in self.authorizations if a.body.status != messages.STATUS_VALID]


@dataclass(frozen=True)
class AccountInfo:
    """An account as the CA reports it."""

    url: str
    status: str  # valid | deactivated | revoked


class _Json(JSONDeSerializable):
    """A JSON body the acme package has no message class for (key change, deactivation, lookup)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_partial_json(self) -> dict[str, Any]:
        return self.data

    @classmethod
    def from_json(cls, jobj: Any) -> _Json:
        return cls(dict(jobj))


def _load_jwk(pem: str) -> tuple[JWK, JWASignature]:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {256: ES256, 384: ES384, 521: ES512}[key.curve.key_size]
        return JWKEC(key=key), alg
    return JWKRSA(key=key), RS256


class _ReplacingOrder(messages.NewOrder):
    """newOrder with the ARI "replaces" field (omitted when None), which the acme package does not know yet."""

    replaces: str | None = field("replaces", omitempty=True)


class _TransientAnswer(Exception):
    """The CA answered 5xx or 429: it did not act, try later. Raised by _Network, worded by _translated."""

    def __init__(self, error: Exception, response: requests.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.error = error
        self.status = response.status_code
        self.retry_after = _retry_after(response)


class _Network(client.ClientNetwork):
    """ClientNetwork that tries again what is worth trying again, within one request.

    * badNonce (CAs reject nonces at will): up to BAD_NONCE_RETRIES times, at once.
    * 5xx and 429 answers (the CA did not act), and a lost connection where sending again is harmless
      (GET, POST-as-GET, or a connection that never opened): up to TRANSIENT_RETRIES times, waiting the
      CA's Retry-After or a short backoff, TRANSIENT_MAX_WAIT seconds at most in all. A newOrder,
      finalize or challenge answer whose answer was lost is not sent again (that could place a second
      order, or be refused as not ready): the attempt fails and the next one resumes the recorded order.
    """

    @classmethod
    def _check_response(cls, response: requests.Response, content_type: str | None = None) -> requests.Response:
        try:
            return super()._check_response(response, content_type=content_type)
        except (messages.Error, acme_errors.ClientError) as error:
            if response.status_code >= 500 or response.status_code == 429:
                raise _TransientAnswer(error, response) from error
            raise

    def get(
        self, url: str, content_type: str = client.ClientNetwork.JSON_CONTENT_TYPE, **kwargs: Any
    ) -> requests.Response:
        return self._retrying(lambda: super(_Network, self).get(url, content_type=content_type, **kwargs), True)

    def post(self, *args: Any, **kwargs: Any) -> requests.Response:
        as_get = (args[1] if len(args) > 1 else kwargs.get("obj")) is None  # POST-as-GET: a read
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
            except _TransientAnswer as answer:
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


_JITTER = random.Random()  # noqa: S311 - spreads retries out; no secret comes of it


def _never_sent(error: requests.exceptions.ConnectionError) -> bool:
    """The connection failed before the request went out (refused, or it timed out while connecting)."""
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


def _problem_text(error: messages.Error) -> str:
    text = error.detail or error.description or error.typ
    for sub in getattr(error, "subproblems", None) or ():
        ident = getattr(sub.identifier, "value", None)
        text += f"; {ident}: {sub.detail}"
    return str(text)


def _retry_after(response: requests.Response | None) -> float | None:
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


@contextmanager
def _translated(action: str, directory_url: str) -> Iterator[None]:
    """Turn what acme and requests raise into acmevault errors naming the action."""
    try:
        yield
    except (AcmeVaultError, acme_errors.ConflictError):
        raise  # ours already, or an "account exists" answer the caller handles
    except _TransientAnswer as answer:
        # 5xx or 429 still, after the network layer's retries: the queue tries again later
        problem = answer.error
        if isinstance(problem, messages.Error) and problem.code == "rateLimited":
            text = f"rate limited by the CA: {_problem_text(problem)}"
        elif isinstance(problem, messages.Error):
            text = f"the CA failed (HTTP {answer.status}): {_problem_text(problem)}"
        else:
            text = f"the CA answered HTTP {answer.status}"
        raise CaUnavailable(f"{action}: {text}", answer.retry_after) from None
    except messages.Error as error:
        detail = _problem_text(error)
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
            raise CaUnavailable(f"{action}: the CA answered HTTP {status}", _retry_after(response)) from None
        raise CaError(f"{action}: unexpected answer from the CA" + (f" (HTTP {status})" if status else "")) from None
    except (acme_errors.Error, DeserializationError, ValueError) as error:
        raise CaError(f"{action}: unexpected answer from the CA: {type(error).__name__}") from None


class AcmeSession:
    """An ACME account at a directory: register it, order, prove, finalize, revoke."""

    def __init__(self, credential: DirectoryCredential, account_key_pem: str) -> None:
        self.directory_url = credential.directory_url
        self._credential = credential
        self._jwk, alg = _load_jwk(account_key_pem)
        self._net = _Network(key=self._jwk, alg=alg, user_agent=USER_AGENT, timeout=NETWORK_TIMEOUT)
        with _translated("fetching the ACME directory", self.directory_url):
            # No Content-Type check here: we judge the document ourselves, with a clearer message.
            response = self._net.get(self.directory_url, content_type="")
            try:
                document = response.json()
                directory = messages.Directory.from_json(document)
                self._directory_document: dict[str, Any] = document
            except (ValueError, DeserializationError):
                raise CaError(f"{self.directory_url} is not an ACME directory (its answer is not one)") from None
        for resource in ("newNonce", "newAccount", "newOrder"):
            if not isinstance(document, dict) or resource not in document:
                raise CaError(f"{self.directory_url} is not an ACME directory (no {resource})")
        self._client = client.ClientV2(directory, self._net)
        if credential.account_url:
            self._net.account = messages.RegistrationResource(body=messages.Registration(), uri=credential.account_url)

    @property
    def account_url(self) -> str | None:
        """The account's URL at the CA; None until it is registered (or looked up)."""
        account = self._net.account
        return None if account is None else str(account.uri)

    @property
    def account_jwk(self) -> JWK:
        """The account key as a JWK (what signs every request, and a key change)."""
        return self._jwk

    # -- account ---------------------------------------------------------------------------

    def register(self) -> str:
        """Create the account, binding it with EAB when the credential carries one; return its URL."""
        cred = self._credential
        directory = self._client.directory
        needs_eab = bool(getattr(getattr(directory, "meta", None), "external_account_required", False))
        if needs_eab and cred.eab_kid is None:
            raise CredentialRejected(
                f"{self.directory_url} requires external account binding: give eab_kid and the HMAC key"
            )
        eab = None
        if cred.eab_kid is not None and cred.eab_hmac_key is not None:
            eab = messages.ExternalAccountBinding.from_data(
                account_public_key=self._jwk.public_key(),
                kid=cred.eab_kid,
                hmac_key=cred.eab_hmac_key,
                directory=directory,
                hmac_alg=cred.eab_hmac_alg,
            )
        registration = messages.NewRegistration.from_data(
            email=None,
            terms_of_service_agreed=True,
            external_account_binding=eab,
        )
        if cred.contact:
            registration = registration.update(contact=tuple(cred.contact))
        self._net.account = None  # newAccount is signed with the JWK, never a kid
        try:
            with _translated("registering the ACME account", self.directory_url):
                regr = self._client.new_account(registration)
        except (Unauthorized, Malformed, ExternalAccountRequired, BadPublicKey) as error:
            raise CredentialRejected(
                f"the CA rejected the credential (check eab_kid and eab_hmac_key): {error.message}",
                error.problem_type,
            ) from error
        except acme_errors.ConflictError as conflict:
            # The key already has an account here: use it.
            self._net.account = messages.RegistrationResource(body=messages.Registration(), uri=conflict.location)
            return str(conflict.location)
        return str(regr.uri)

    # -- orders ----------------------------------------------------------------------------

    def place_order(self, csr_pem: bytes, profile: str | None = None, replaces: str | None = None) -> PlacedOrder:
        """newOrder for the CSR's names, nothing more: the caller records the order's URL before it does
        anything else, so a crash from here on resumes this order instead of placing another.
        ``replaces`` names the certificate it renews (RFC 9773 §5)."""
        self._require_account()
        csr = _load_csr(csr_pem)
        names, _ = crypto_util.get_identifiers_from_x509(csr.subject, csr.extensions)
        order = _ReplacingOrder(
            identifiers=[messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=n) for n in names],
            profile=profile or "",
            replaces=replaces,
        )
        with _translated("placing the order", self.directory_url):
            response = self._net.post(self._client.directory["newOrder"], order, new_nonce_url=self._new_nonce_url)
            body = messages.Order.from_json(response.json())
            url = response.headers.get("Location")
        if not url:
            raise CaError("placing the order: the CA gave the new order no URL (Location header)")
        return PlacedOrder(url=str(url), body=body, csr_pem=csr_pem)

    def with_authorizations(self, placed: PlacedOrder) -> Order:
        """The order with its authorizations fetched: what the challenges are answered from."""
        with _translated(f"fetching the authorizations of order {placed.url}", self.directory_url):
            authorizations = tuple(
                messages.AuthorizationResource(
                    body=messages.Authorization.from_json(self._post_as_get(a).json()), uri=a
                )
                for a in placed.body.authorizations
            )
        resource = messages.OrderResource(
            body=placed.body, uri=placed.url, authorizations=list(authorizations), csr_pem=placed.csr_pem
        )
        return Order(url=placed.url, resource=resource, authorizations=authorizations)

    def dns_challenge(self, authz: messages.AuthorizationResource) -> DnsChallenge:
        """The dns-01 challenge of an authorization, with its record name and value; AuthorizationRequired
        when the CA offers none."""
        domain = str(authz.body.identifier.value)
        for challb in authz.body.challenges:
            if isinstance(challb.chall, challenges.DNS01):
                return DnsChallenge(
                    domain=domain,
                    record_name=challb.chall.validation_domain_name(domain),
                    record_value=challb.chall.validation(self._jwk),
                    authorization_url=str(authz.uri),
                    challenge=challb,
                )
        raise AuthorizationRequired(domain)

    def answer(self, challenge: DnsChallenge) -> None:
        """Tell the CA the challenge's record is in place; CaError (a typed problem) when it refuses, CaUnavailable
        when it cannot be reached."""
        with _translated(f"answering the dns-01 challenge for {challenge.domain}", self.directory_url):
            self._client.answer_challenge(challenge.challenge, challenge.challenge.chall.response(self._jwk))

    def wait_for_authorization(self, url: str, deadline: float) -> None:
        """Poll one authorization until it leaves 'pending'; fail with the CA's reason if not valid."""

        def fetch() -> tuple[messages.Authorization, requests.Response]:
            response = self._post_as_get(url)
            return messages.Authorization.from_json(response.json()), response

        authz = self._poll(fetch, lambda a: a.status != messages.STATUS_PENDING, deadline, f"authorization {url}")
        if authz.status != messages.STATUS_VALID:
            domain = authz.identifier.value
            # The CA's problem document, type and detail: what it looked up and what it found.
            problems = [c.error for c in authz.challenges if c.error is not None]
            reasons = [f"{p.code or p.typ}: {_problem_text(p)}" for p in problems]
            raise ChallengeFailed(f"{domain}: the CA's validation failed: {'; '.join(reasons) or authz.status}")

    def finalize(self, order: Order, deadline: float) -> str:
        """Send the CSR unless the CA already has it, wait for the certificate, return the full chain PEM.

        Works on a fresh order and on one fetched again after a crash (processing or valid already).
        """
        body = order.resource.body
        retry_after = None
        if body.status in (messages.STATUS_PENDING, messages.STATUS_READY):
            with _translated("finalizing the order", self.directory_url):
                csr = messages.CertificateRequest(csr=_load_csr(order.resource.csr_pem))
                response = self._net.post(body.finalize, csr, new_nonce_url=self._new_nonce_url)
                body = messages.Order.from_json(response.json())
            retry_after = _retry_after(response)

        def fetch() -> tuple[messages.Order, requests.Response]:
            r = self._post_as_get(order.url)
            return messages.Order.from_json(r.json()), r

        def still_processing(last: messages.Order, wait: float) -> AcmeVaultError:
            if last.status == messages.STATUS_PROCESSING:
                return AwaitingCa(order.url, wait)
            return CaUnavailable(f"timed out waiting for order {order.url}", retry_after=wait)

        if body.status not in (messages.STATUS_VALID, messages.STATUS_INVALID):
            body = self._poll(
                fetch,
                lambda o: o.status in (messages.STATUS_VALID, messages.STATUS_INVALID),
                min(deadline, time.monotonic() + PROCESSING_PATIENCE),
                f"order {order.url}",
                retry_after=retry_after,
                first=body,
                out_of_time=still_processing,
            )
        if body.status == messages.STATUS_INVALID or body.certificate is None:
            reason = _problem_text(body.error) if body.error is not None else "no reason given"
            raise CaError(f"order {order.url} became invalid: {reason}")
        with _translated("downloading the certificate", self.directory_url):
            return str(self._post_as_get(body.certificate).text)

    def fetch_order(self, url: str, csr_pem: bytes) -> Order:
        """An order placed earlier (by a process that died), as it stands now at the CA."""
        self._require_account()
        with _translated(f"fetching order {url}", self.directory_url):
            body = messages.Order.from_json(self._post_as_get(url).json())
        return self.with_authorizations(PlacedOrder(url=url, body=body, csr_pem=csr_pem))

    # -- renewal information (RFC 9773) -----------------------------------------------------

    @property
    def supports_ari(self) -> bool:
        """Whether the directory offers renewal information (RFC 9773)."""
        return "renewalInfo" in self._directory_document

    def renewal_info(self, certificate_id: str) -> tuple[Any, float | None]:
        """The CA's renewal information for a certificate, and its Retry-After in seconds."""
        url = f"{str(self._directory_document['renewalInfo']).rstrip('/')}/{certificate_id}"
        with _translated("fetching renewal information", self.directory_url):
            response = self._net.get(url, content_type="")
            return response.json(), _retry_after(response)

    def order_urls(self) -> list[str]:
        """Every order of this account, as the CA lists them (RFC 8555 §7.1.2.1), following pagination."""
        self._require_account()
        with _translated("listing the account's orders", self.directory_url):
            account = self._post_as_get(str(self.account_url)).json()
            url: str | None = account.get("orders")
            urls: list[str] = []
            while url:
                response = self._post_as_get(url)
                urls += response.json().get("orders", [])
                url = response.links.get("next", {}).get("url")
        return urls

    def revoke(self, certificate_pem: str, reason: int) -> None:
        """Revoke the certificate with the RFC 5280 ``reason`` code; AlreadyRevoked when the CA had revoked it,
        another CaError when it refuses, CaUnavailable when it cannot be reached."""
        from cryptography import x509

        self._require_account()
        with _translated("revoking the certificate", self.directory_url):
            self._client.revoke(x509.load_pem_x509_certificate(certificate_pem.encode()), reason)

    # -- account lifecycle: look up, key change, deactivation (RFC 8555 §7.3) --------------

    def find_account(self) -> AccountInfo | None:
        """The account this session's key controls, without creating one (onlyReturnExisting, §7.3.1).

        None when the CA knows no account for the key; a deactivated account is the CA's refusal
        (CaError, problem type "unauthorized").
        """
        saved, self._net.account = self._net.account, None  # signed with the JWK, never a kid
        try:
            with _translated("looking up the ACME account", self.directory_url):
                response = self._net.post(
                    self._client.directory["newAccount"],
                    _Json({"onlyReturnExisting": True}),
                    new_nonce_url=self._new_nonce_url,
                )
        except AccountDoesNotExist:
            return None
        finally:
            self._net.account = saved
        return AccountInfo(url=str(response.headers["Location"]), status=str(response.json().get("status")))

    def account_status(self) -> str:
        """The account's status as the CA reports it to a request signed with this session's key."""
        self._require_account()
        with _translated("reading the ACME account", self.directory_url):
            return str(self._post_as_get(str(self.account_url)).json().get("status"))

    def change_key(self, new_key_pem: str) -> None:
        """Roll the account over to a new key (§7.3.5); this session signs with the new key afterwards.

        The acme package has no key change: the inner JWS (signed with the new key, its JWK in the
        header) carries the account URL and the old public key; the outer one is signed with the old
        key and the account's kid, as every request is.
        """
        self._require_account()
        url = self._directory_document.get("keyChange")
        if not url:
            raise CaError(f"{self.directory_url} does not offer account key rollover (no keyChange)")
        new_jwk, new_alg = _load_jwk(new_key_pem)
        payload = {"account": self.account_url, "oldKey": self._jwk.public_key().to_partial_json()}
        inner = jws.JWS.sign(json.dumps(payload).encode(), key=new_jwk, alg=new_alg, nonce=None, url=url)
        with _translated("rolling over the account key", self.directory_url):
            self._net.post(url, _Json(inner.to_partial_json()), new_nonce_url=self._new_nonce_url)
        self._jwk, self._net.key, self._net.alg = new_jwk, new_jwk, new_alg

    def deactivate(self) -> None:
        """Deactivate the account (§7.3.6): the CA refuses every later request it signs.

        Posts {"status": "deactivated"} itself: the acme package's deactivate_registration echoes
        the account object back, and breaks on the externalAccountBinding field CAs return in it.
        """
        self._require_account()
        with _translated("deactivating the ACME account", self.directory_url):
            self._net.post(str(self.account_url), _Json({"status": "deactivated"}), new_nonce_url=self._new_nonce_url)

    def revoke_as_key_holder(self, certificate_pem: str, reason: int) -> None:
        """Revoke a certificate with a request signed by its own private key (§7.6), no account needed:
        this session must have been opened with the certificate's key as its key."""
        from cryptography import x509

        saved, self._net.account = self._net.account, None
        try:
            with _translated("revoking the certificate with its own key", self.directory_url):
                self._client.revoke(x509.load_pem_x509_certificate(certificate_pem.encode()), reason)
        finally:
            self._net.account = saved

    # -- plumbing --------------------------------------------------------------------------

    @property
    def _new_nonce_url(self) -> str:
        return str(self._client.directory["newNonce"])

    def _post_as_get(self, url: str) -> requests.Response:
        return self._net.post(url, None, new_nonce_url=self._new_nonce_url)

    def _require_account(self) -> None:
        if self._net.account is None:
            raise CredentialRejected("the directory has no ACME account yet; register it first")

    def _poll(
        self,
        fetch: Callable[[], tuple[T, requests.Response]],
        done: Callable[[T], bool],
        deadline: float,
        what: str,
        retry_after: float | None = None,
        first: T | None = None,
        out_of_time: Callable[[T, float], AcmeVaultError] | None = None,
    ) -> T:
        """The one polling loop: wait Retry-After when the CA gives one, else back off from 5 ms.

        Past the deadline: ``out_of_time`` (given the last value seen, from ``first``, and the wait
        the CA asked for) says what to raise; by default CaUnavailable."""
        delay = FIRST_POLL_DELAY
        wait = retry_after if retry_after is not None else delay
        last = first
        while True:
            if time.monotonic() + wait > deadline:
                if out_of_time is not None and last is not None:
                    raise out_of_time(last, wait)
                raise CaUnavailable(f"timed out waiting for {what}", retry_after=wait)
            time.sleep(wait)
            with _translated(f"polling {what}", self.directory_url):
                value, response = fetch()
            last = value
            if done(value):
                return value
            delay = min(delay * 2, MAX_POLL_DELAY)
            hinted = _retry_after(response)
            wait = hinted if hinted is not None else delay


def _load_csr(pem: bytes) -> Any:
    from cryptography import x509

    return x509.load_pem_x509_csr(pem)
