"""The ACME conversation (RFC 8555) with one account at one directory: :class:`AcmeSession`.

Built on certbot's ``acme`` package for messages and JWS. Beside it: ``network`` (the wire: nonces and
retries within a request), ``translation`` (its messages and errors into acmevault's values and errors)
and ``polling`` (our own loop, which honours Retry-After). It implements ``ports.CaSession`` (issuance,
revocation) and the account operations the rotation use cases need.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Any

import requests
from acme import client, crypto_util, jws, messages
from acme import errors as acme_errors
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.errors import DeserializationError
from josepy.jwa import ES256, ES384, ES512, RS256, JWASignature
from josepy.jwk import JWK, JWKEC, JWKRSA

from acmevault.adapters.acme.network import NETWORK_TIMEOUT, USER_AGENT, Network
from acmevault.adapters.acme.network import retry_after as retry_after_of
from acmevault.adapters.acme.polling import poll
from acmevault.adapters.acme.translation import (
    JsonBody,
    ReplacingOrder,
    authorization_from,
    challenge_body,
    order_from,
    problem_text,
    renewal_info_from,
    translated,
)
from acmevault.domain.ari import RenewalInfo
from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import (
    AccountDoesNotExist,
    AcmeVaultError,
    AwaitingCa,
    BadPublicKey,
    CaError,
    CaUnavailable,
    ChallengeFailed,
    CredentialRejected,
    ExternalAccountRequired,
    Malformed,
    Unauthorized,
)
from acmevault.domain.orders import DnsChallenge, Order, OrderStatus

# An order still "processing" after this long is waiting for a person (DigiCert approval, an OV/EV
# check): the worker hands it back (AwaitingCa) and returns later instead of sleeping in Lambda.
PROCESSING_PATIENCE = 60.0


@dataclass(frozen=True)
class AccountInfo:
    """An account as the CA reports it."""

    url: str
    status: str  # valid | deactivated | revoked


def _load_jwk(pem: str) -> tuple[JWK, JWASignature]:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        alg = {256: ES256, 384: ES384, 521: ES512}[key.curve.key_size]
        return JWKEC(key=key), alg
    return JWKRSA(key=key), RS256


class AcmeSession:
    """An ACME account at a directory: register it, order, prove, finalize, revoke (ports.CaSession).

    Opening one reads the directory: CaUnavailable when the CA cannot be reached, CaError when the
    URL is not an ACME directory. Every method raises what ``translation.translated`` says.
    """

    def __init__(self, credential: DirectoryCredential, account_key_pem: str) -> None:
        self.directory_url = credential.directory_url
        self._credential = credential
        self._jwk, alg = _load_jwk(account_key_pem)
        self._net = Network(key=self._jwk, alg=alg, user_agent=USER_AGENT, timeout=NETWORK_TIMEOUT)
        with translated("fetching the ACME directory", self.directory_url):
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
        """The account's URL (its kid); None until it is registered."""
        account = self._net.account
        return None if account is None else str(account.uri)

    @property
    def account_jwk(self) -> JWK:
        """The key this session signs with."""
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
            with translated("registering the ACME account", self.directory_url):
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

    def place_order(self, csr_pem: bytes, profile: str | None = None, replaces: str | None = None) -> Order:
        """newOrder for the CSR's names, nothing more: the caller records the order's URL before it does
        anything else, so a crash from here on resumes this order instead of placing another.
        ``replaces`` names the certificate it renews (RFC 9773 §5)."""
        self._require_account()
        csr = _load_csr(csr_pem)
        names, _ = crypto_util.get_identifiers_from_x509(csr.subject, csr.extensions)
        order = ReplacingOrder(
            identifiers=[messages.Identifier(typ=messages.IDENTIFIER_FQDN, value=n) for n in names],
            profile=profile or "",
            replaces=replaces,
        )
        with translated("placing the order", self.directory_url):
            response = self._net.post(self._client.directory["newOrder"], order, new_nonce_url=self._new_nonce_url)
            body = messages.Order.from_json(response.json())
            url = response.headers.get("Location")
            if not url:
                raise CaError("placing the order: the CA gave the new order no URL (Location header)")
            return order_from(str(url), body, csr_pem)

    def with_authorizations(self, order: Order) -> Order:
        """The order with its authorizations fetched: what the challenges are answered from."""
        with translated(f"fetching the authorizations of order {order.url}", self.directory_url):
            authorizations = tuple(
                authorization_from(url, messages.Authorization.from_json(self._post_as_get(url).json()), self._jwk)
                for url in order.authorization_urls
            )
        return replace(order, authorizations=authorizations)

    def answer(self, challenge: DnsChallenge) -> None:
        """Tell the CA the challenge's record is published: it looks now (wait_for_authorization)."""
        with translated(f"answering the dns-01 challenge for {challenge.domain}", self.directory_url):
            challb = challenge_body(challenge)
            self._client.answer_challenge(challb, challb.chall.response(self._jwk))

    def wait_for_authorization(self, url: str, deadline: float) -> None:
        """Poll one authorization until it leaves 'pending'; ChallengeFailed with the CA's reason if not valid."""

        def fetch() -> tuple[messages.Authorization, requests.Response]:
            response = self._post_as_get(url)
            return messages.Authorization.from_json(response.json()), response

        authz = poll(
            fetch, lambda a: a.status != messages.STATUS_PENDING, deadline, f"authorization {url}", self.directory_url
        )
        if authz.status != messages.STATUS_VALID:
            domain = authz.identifier.value
            # The CA's problem document, type and detail: what it looked up and what it found.
            problems = [c.error for c in authz.challenges if c.error is not None]
            reasons = [f"{p.code or p.typ}: {problem_text(p)}" for p in problems]
            raise ChallengeFailed(f"{domain}: the CA's validation failed: {'; '.join(reasons) or authz.status}")

    def finalize(self, order: Order, deadline: float) -> str:
        """Send the CSR unless the CA already has it, wait for the certificate, return the full chain PEM.

        Works on a fresh order and on one fetched again after a crash (processing or valid already).
        AwaitingCa when the CA keeps it processing past PROCESSING_PATIENCE; CaError when it became invalid.
        """
        current, retry_after = order, None
        if order.status in (OrderStatus.PENDING, OrderStatus.READY):
            with translated("finalizing the order", self.directory_url):
                csr = messages.CertificateRequest(csr=_load_csr(order.csr_pem))
                response = self._net.post(order.finalize_url, csr, new_nonce_url=self._new_nonce_url)
                current = order_from(order.url, messages.Order.from_json(response.json()), order.csr_pem)
            retry_after = retry_after_of(response)

        def fetch() -> tuple[Order, requests.Response]:
            r = self._post_as_get(order.url)
            return order_from(order.url, messages.Order.from_json(r.json()), order.csr_pem), r

        def still_processing(last: Order, wait: float) -> AcmeVaultError:
            if last.status is OrderStatus.PROCESSING:
                return AwaitingCa(order.url, wait)
            return CaUnavailable(f"timed out waiting for order {order.url}", retry_after=wait)

        finished = (OrderStatus.VALID, OrderStatus.INVALID)
        if current.status not in finished:
            current = poll(
                fetch,
                lambda o: o.status in finished,
                min(deadline, time.monotonic() + PROCESSING_PATIENCE),
                f"order {order.url}",
                self.directory_url,
                retry_after=retry_after,
                first=current,
                out_of_time=still_processing,
            )
        if current.status is OrderStatus.INVALID or current.certificate_url is None:
            raise CaError(f"order {order.url} became invalid: {current.error or 'no reason given'}")
        with translated("downloading the certificate", self.directory_url):
            return str(self._post_as_get(current.certificate_url).text)

    def fetch_order(self, url: str, csr_pem: bytes) -> Order:
        """An order placed earlier (by a process that died), as it stands now at the CA, with its authorizations."""
        self._require_account()
        with translated(f"fetching order {url}", self.directory_url):
            order = order_from(url, messages.Order.from_json(self._post_as_get(url).json()), csr_pem)
        return self.with_authorizations(order)

    # -- renewal information (RFC 9773) -----------------------------------------------------

    @property
    def supports_ari(self) -> bool:
        """Whether the directory offers renewal information (RFC 9773)."""
        return "renewalInfo" in self._directory_document

    def renewal_info(self, certificate_id: str) -> RenewalInfo:
        """The CA's renewal information for a certificate (its ARI id), with the answer's Retry-After."""
        url = f"{str(self._directory_document['renewalInfo']).rstrip('/')}/{certificate_id}"
        with translated("fetching renewal information", self.directory_url):
            response = self._net.get(url, content_type="")
            return renewal_info_from(response.json(), retry_after_of(response))

    def order_urls(self) -> list[str]:
        """Every order of this account, as the CA lists them (RFC 8555 §7.1.2.1), following pagination."""
        self._require_account()
        with translated("listing the account's orders", self.directory_url):
            account = self._post_as_get(str(self.account_url)).json()
            url: str | None = account.get("orders")
            urls: list[str] = []
            while url:
                response = self._post_as_get(url)
                urls += response.json().get("orders", [])
                url = response.links.get("next", {}).get("url")
        return urls

    def revoke(self, certificate_pem: str, reason: int) -> None:
        """Revoke a certificate this account issued, with an RFC 5280 reason code; AlreadyRevoked if it was."""
        self._require_account()
        with translated("revoking the certificate", self.directory_url):
            self._client.revoke(x509.load_pem_x509_certificate(certificate_pem.encode()), reason)

    # -- account lifecycle: look up, key change, deactivation (RFC 8555 §7.3) --------------

    def find_account(self) -> AccountInfo | None:
        """The account this session's key controls, without creating one (onlyReturnExisting, §7.3.1).

        None when the CA knows no account for the key; a deactivated account is the CA's refusal
        (CaError, problem type "unauthorized").
        """
        saved, self._net.account = self._net.account, None  # signed with the JWK, never a kid
        try:
            with translated("looking up the ACME account", self.directory_url):
                response = self._net.post(
                    self._client.directory["newAccount"],
                    JsonBody({"onlyReturnExisting": True}),
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
        with translated("reading the ACME account", self.directory_url):
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
        with translated("rolling over the account key", self.directory_url):
            self._net.post(url, JsonBody(inner.to_partial_json()), new_nonce_url=self._new_nonce_url)
        self._jwk, self._net.key, self._net.alg = new_jwk, new_jwk, new_alg

    def deactivate(self) -> None:
        """Deactivate the account (§7.3.6): the CA refuses every later request it signs.

        Posts {"status": "deactivated"} itself: the acme package's deactivate_registration echoes
        the account object back, and breaks on the externalAccountBinding field CAs return in it.
        """
        self._require_account()
        with translated("deactivating the ACME account", self.directory_url):
            self._net.post(
                str(self.account_url), JsonBody({"status": "deactivated"}), new_nonce_url=self._new_nonce_url
            )

    def revoke_as_key_holder(self, certificate_pem: str, reason: int) -> None:
        """Revoke a certificate with a request signed by its own private key (§7.6), no account needed:
        this session must have been opened with the certificate's key as its key."""
        saved, self._net.account = self._net.account, None
        try:
            with translated("revoking the certificate with its own key", self.directory_url):
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


def _load_csr(pem: bytes) -> x509.CertificateSigningRequest:
    return x509.load_pem_x509_csr(pem)
