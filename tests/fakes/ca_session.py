"""An ACME CA in memory, with the sessions issuance and revocation open on it (``ports.CaSession``), and
revocation with a certificate's own key (``ports.CaAccounts.revoke_with_key``).

It keeps what a CA keeps, and judges as a CA judges, so a test reads back what the CA holds rather than
what the use case says it did:

* orders (URL, account, names, status) and their authorizations, one per name; a name in
  ``prevalidated`` (an OV/EV domain, or a valid authorization reused) is valid from the start;
* a dns-01 answer is checked against the Route 53 fake: the authorization turns valid only when the
  TXT record with the key authorization's digest is published there, and invalid otherwise;
* finalize needs every authorization valid and a CSR for exactly the order's names, and issues a real
  certificate (EC P-256, signed by its own issuer, dated by the test clock) for the CSR's key;
* revocations are kept by serial (a second one is refused: AlreadyRevoked).

What tests script: ``hold`` (finalize answers "still processing": AwaitingCa), ``fail(call, error)``
(the next ``call`` raises ``error``), ``before(call, action)`` (runs ``action`` when ``call`` is made: a
worker killed there, a spec changed there), ``answer_names`` (the CA orders other names than asked),
``renewal_window`` (ARI). Every call is counted in ``calls``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from acmevault.domain.ari import RenewalInfo
from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import (
    AlreadyRevoked,
    AwaitingCa,
    CaError,
    ChallengeFailed,
    CredentialRejected,
)
from acmevault.domain.orders import Authorization, AuthorizationStatus, DnsChallenge, Order, OrderStatus
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.route53 import FakeDns

LIFETIME = timedelta(days=90)
_ISSUER_KEY = ec.generate_private_key(ec.SECP256R1())  # one per test session: signing is what costs


@dataclass
class CaOrder:
    """An order as the CA keeps it."""

    url: str
    account_url: str
    names: tuple[str, ...]
    authorizations: tuple[str, ...]
    status: OrderStatus = OrderStatus.PENDING
    replaces: str | None = None
    profile: str | None = None
    csr_pem: bytes | None = None  # once finalized
    certificate: x509.Certificate | None = None
    error: str | None = None


@dataclass
class CaAuthorization:
    """One name's authorization as the CA keeps it."""

    url: str
    name: str  # without "*."
    wildcard: bool
    token: str
    status: AuthorizationStatus = AuthorizationStatus.PENDING
    error: str | None = None


@dataclass
class ScriptedCa:
    """One ACME directory (``directory_url``) and its accounts' orders; ``open_session`` is a session factory."""

    dns: FakeDns
    clock: Callable[[], datetime]
    directory_url: str = "https://ca.test/directory"
    supports_ari: bool = False
    prevalidated: set[str] = field(default_factory=set)
    hold: bool = False  # finalize leaves orders "processing" (an approval): AwaitingCa
    hold_retry_after: float | None = 120.0
    answer_names: tuple[str, ...] | None = None  # the CA orders these instead of the CSR's names
    renewal_window: tuple[datetime, datetime] | None = None
    orders: dict[str, CaOrder] = field(default_factory=dict)
    authorizations: dict[str, CaAuthorization] = field(default_factory=dict)
    revoked: dict[str, int] = field(default_factory=dict)  # serial → reason code
    revoked_by_key_holder: list[str] = field(default_factory=list)  # serials
    calls: Counter[str] = field(default_factory=Counter)
    _failures: dict[str, list[Exception]] = field(default_factory=dict)
    _before: dict[str, list[Callable[[], None]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    # -- scripting (tests) ------------------------------------------------------------------------

    def fail(self, call: str, error: Exception) -> None:
        """The next ``call`` (a CaSession method name) raises ``error`` instead of doing anything."""
        self._failures.setdefault(call, []).append(error)

    def before(self, call: str, action: Callable[[], None]) -> None:
        """Run ``action`` once, when ``call`` is next made (before the CA does anything)."""
        self._before.setdefault(call, []).append(action)

    def open_session(self, credential: DirectoryCredential, key_pem: str) -> FakeCaSession:
        """A session at this CA (the factory ``Accounts`` takes)."""
        assert credential.directory_url == self.directory_url, "a session for another CA"
        return FakeCaSession(self, credential.account_url, key_pem)

    def revoke(self, certificate_pem: str, reason: int) -> None:
        """Revoke the certificate (by serial); AlreadyRevoked when it was."""
        serial = _serial(x509.load_pem_x509_certificate(certificate_pem.encode()))
        if serial in self.revoked:
            raise AlreadyRevoked("revoking the certificate: the CA refused (alreadyRevoked)", "alreadyRevoked")
        self.revoked[serial] = reason

    def revoke_with_key(self, certificate_pem: str, key_pem: str, reason: int) -> None:
        """A revocation signed with the certificate's own key: the key must be the certificate's."""
        self._enter("revoke_with_key")
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
        public = serialization.load_pem_private_key(key_pem.encode(), password=None).public_key()
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        if public.public_bytes(serialization.Encoding.DER, spki) != certificate.public_key().public_bytes(
            serialization.Encoding.DER, spki
        ):
            raise CaError("revoking the certificate: the CA refused (unauthorized): not signed by its key")
        self.revoke(certificate_pem, reason)
        self.revoked_by_key_holder.append(_serial(certificate))

    def order_for(self, serial: str) -> CaOrder:
        """The order that issued ``serial``."""
        return next(o for o in self.orders.values() if o.certificate and _serial(o.certificate) == serial)

    def issued_serials(self) -> list[str]:
        """The serial of every certificate issued, in order."""
        return [_serial(o.certificate) for o in self.orders.values() if o.certificate is not None]

    def invalidate(self, url: str, why: str = "the approver refused") -> None:
        """The CA gives up on an order (as after a refused approval)."""
        self.orders[url].status, self.orders[url].error = OrderStatus.INVALID, why

    # -- what sessions do -------------------------------------------------------------------------

    def _enter(self, call: str) -> None:
        self.calls[call] += 1
        for action in self._before.pop(call, []):
            action()
        failures = self._failures.get(call)
        if failures:
            raise failures.pop(0)

    def _place(self, account_url: str, csr_pem: bytes, profile: str | None, replaces: str | None) -> CaOrder:
        names = self.answer_names or _names(x509.load_pem_x509_csr(csr_pem))
        url = f"{self.directory_url}/order/{next(self._ids)}"
        authorizations = []
        for name in names:
            bare, wildcard = name.removeprefix("*."), name.startswith("*.")
            authz = CaAuthorization(f"{url}/authz/{name}", bare, wildcard, token=_token(url, name))
            self.authorizations[authz.url] = authz
            authorizations.append(authz.url)
        order = CaOrder(url, account_url, names, tuple(authorizations), replaces=replaces, profile=profile)
        self.orders[url] = order
        self._settle(order)
        return order

    def _settle(self, order: CaOrder) -> None:
        """A name validated at the CA meanwhile (``prevalidated``) is valid in every order; an order whose
        authorizations are all valid is ready."""
        for url in order.authorizations:
            authz = self.authorizations[url]
            if authz.status is AuthorizationStatus.PENDING and _as_ordered(authz) in self.prevalidated:
                authz.status = AuthorizationStatus.VALID
        if order.status is OrderStatus.PENDING and all(
            self.authorizations[a].status is AuthorizationStatus.VALID for a in order.authorizations
        ):
            order.status = OrderStatus.READY

    def _check_answer(self, challenge: DnsChallenge, account_url: str) -> None:
        """What a CA does on an answer: look the TXT record up, and judge the authorization."""
        authz = self.authorizations[challenge.authorization_url]
        expected = _record_value(authz.token, account_url)
        published = self.dns.resolve_txt(f"_acme-challenge.{authz.name}")
        if expected in published:
            authz.status = AuthorizationStatus.VALID
        else:
            authz.status = AuthorizationStatus.INVALID
            authz.error = f"incorrect TXT record found at _acme-challenge.{authz.name}: {sorted(published)}"
        for order in self.orders.values():
            if authz.url in order.authorizations:
                if authz.status is AuthorizationStatus.INVALID:
                    order.status = OrderStatus.INVALID
                self._settle(order)

    def check_csr(self, order: CaOrder, csr_pem: bytes) -> None:
        """A CSR for other names than the order's is refused (badCSR)."""
        if sorted(_names(x509.load_pem_x509_csr(csr_pem))) != sorted(order.names):
            raise CaError(f"finalizing the order: the CA refused (badCSR): the CSR is not for {order.names}", "badCSR")

    def _issue(self, order: CaOrder) -> None:
        assert order.csr_pem is not None
        csr = x509.load_pem_x509_csr(order.csr_pem)
        now = self.clock()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, order.names[0].removeprefix("*."))]))
            .issuer_name(_ISSUER.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + LIFETIME)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in order.names]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(_ISSUER_KEY.public_key()), critical=False)
            .sign(_ISSUER_KEY, hashes.SHA256())
        )
        order.certificate, order.status = certificate, OrderStatus.VALID


class FakeCaSession:
    """A session with one account (``account_url``; None: not registered) at a ScriptedCa (ports.CaSession)."""

    def __init__(self, ca: ScriptedCa, account_url: str | None, key_pem: str) -> None:
        self.ca = ca
        self._account_url = account_url
        self.key_pem = key_pem

    @property
    def directory_url(self) -> str:
        return self.ca.directory_url

    @property
    def account_url(self) -> str | None:
        return self._account_url

    @property
    def supports_ari(self) -> bool:
        return self.ca.supports_ari

    def place_order(self, csr_pem: bytes, profile: str | None = None, replaces: str | None = None) -> Order:
        self.ca._enter("place_order")
        order = self.ca._place(self._account(), csr_pem, profile, replaces)
        return replace(self._read(order, csr_pem), authorizations=())

    def with_authorizations(self, order: Order) -> Order:
        self.ca._enter("with_authorizations")
        return self._read(self.ca.orders[order.url], order.csr_pem)

    def fetch_order(self, url: str, csr_pem: bytes) -> Order:
        self.ca._enter("fetch_order")
        self._account()
        return self._read(self.ca.orders[url], csr_pem)

    def answer(self, challenge: DnsChallenge) -> None:
        self.ca._enter("answer")
        self.ca._check_answer(challenge, self._account())

    def wait_for_authorization(self, url: str, deadline: float) -> None:
        self.ca._enter("wait_for_authorization")
        authz = self.ca.authorizations[url]
        if authz.status is not AuthorizationStatus.VALID:
            raise ChallengeFailed(f"{authz.name}: the CA's validation failed: {authz.error or authz.status}")

    def finalize(self, order: Order, deadline: float) -> str:
        self.ca._enter("finalize")
        held = self.ca.orders[order.url]
        if held.status is OrderStatus.PENDING:
            raise CaError("finalizing the order: the CA refused (orderNotReady)", "orderNotReady")
        if held.status is OrderStatus.READY:
            self.ca.check_csr(held, order.csr_pem)
            held.status, held.csr_pem = OrderStatus.PROCESSING, order.csr_pem
        if held.status is OrderStatus.PROCESSING and not self.ca.hold:
            self.ca._issue(held)
        if held.status is OrderStatus.PROCESSING:
            raise AwaitingCa(order.url, self.ca.hold_retry_after)
        if held.status is OrderStatus.INVALID or held.certificate is None:
            raise CaError(f"order {order.url} became invalid: {held.error or 'no reason given'}")
        return _pem(held.certificate) + _pem(_ISSUER)

    def order_urls(self) -> list[str]:
        self.ca._enter("order_urls")
        return [url for url, order in self.ca.orders.items() if order.account_url == self._account()]

    def renewal_info(self, certificate_id: str) -> RenewalInfo:
        self.ca._enter("renewal_info")
        start, end = self.ca.renewal_window or (None, None)
        return RenewalInfo(start, end, retry_after=3600)

    def revoke(self, certificate_pem: str, reason: int) -> None:
        self.ca._enter("revoke")
        self._account()
        self._revoke(certificate_pem, reason)

    def _revoke(self, certificate_pem: str, reason: int) -> None:
        self.ca.revoke(certificate_pem, reason)

    def _account(self) -> str:
        if self._account_url is None:
            raise CredentialRejected("the directory has no ACME account yet; register it first")
        return self._account_url

    def _read(self, order: CaOrder, csr_pem: bytes) -> Order:
        """The order as the CA would answer it (a copy: what the session holds does not change under it)."""
        self.ca._settle(order)
        authorizations = tuple(self._authorization(self.ca.authorizations[a]) for a in order.authorizations)
        return Order(
            url=order.url,
            status=order.status,
            identifiers=order.names,
            finalize_url=f"{order.url}/finalize",
            csr_pem=csr_pem,
            authorization_urls=order.authorizations,
            authorizations=authorizations,
            certificate_url=f"{order.url}/certificate" if order.certificate else None,
            error=order.error,
        )

    def _authorization(self, authz: CaAuthorization) -> Authorization:
        challenge = DnsChallenge(
            url=f"{authz.url}/dns-01",
            token=authz.token,
            domain=authz.name,
            record_name=f"_acme-challenge.{authz.name}",
            record_value=_record_value(authz.token, self._account()),
            authorization_url=authz.url,
        )
        return Authorization(authz.url, authz.name, authz.wildcard, authz.status, challenge)


class ScriptedCaAccounts:
    """``ports.CaAccounts`` over ScriptedCas by directory URL, for what issuance and revocation ask of it:
    revoking a certificate with its own key. (The account operations are rotation's: tests/fakes/ca_accounts.py.)"""

    def __init__(self) -> None:
        self.cas: dict[str, ScriptedCa] = {}

    def revoke_with_key(self, directory_url: str, certificate_pem: str, key_pem: str, reason_code: int) -> None:
        self.cas[directory_url].revoke_with_key(certificate_pem, key_pem, reason_code)


def _as_ordered(authz: CaAuthorization) -> str:
    return ("*." if authz.wildcard else "") + authz.name


def _names(csr: x509.CertificateSigningRequest) -> tuple[str, ...]:
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return tuple(san.value.get_values_for_type(x509.DNSName))


def _token(order_url: str, name: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"{order_url}/{name}".encode()).digest()).decode().rstrip("=")


def _record_value(token: str, account_url: str) -> str:
    """base64url(SHA-256(key authorization)); the fake's key authorization is the token and the account."""
    digest = hashlib.sha256(f"{token}.{account_url}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _serial(certificate: x509.Certificate) -> str:
    return format(certificate.serial_number, "x")


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _self_signed_issuer() -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Scripted CA issuer")])
    now = datetime(2020, 1, 1).astimezone()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(_ISSUER_KEY.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=36500))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(_ISSUER_KEY, hashes.SHA256())
    )


_ISSUER = _self_signed_issuer()
