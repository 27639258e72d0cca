"""Managed certificates as rotation reads them (``ports.Certificates``: get, all, add_history) and the
private keys of earlier certificates (``ports.KeyArchive``), in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from acmevault.domain.certificate import Certificate, CertificateSpec, CertificateState, Status
from acmevault.domain.errors import CertificateNotFound


class CertificateStore:
    """Certificates by name, each with its history; ``keys``: (name, certificate PEM) → private key PEM."""

    def __init__(self) -> None:
        self.certificates: dict[str, Certificate] = {}
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.keys: dict[tuple[str, str], str] = {}

    # -- set up (tests) -----------------------------------------------------------------------

    def issued(self, name: str, directory: str, account_url: str | None, serial: str, issuer: str | None) -> str:
        """A certificate issued through ``account_url`` with ``serial``, its key archived; returns its PEM."""
        pem = f"-----BEGIN CERTIFICATE-----\n{name}/{serial}\n-----END CERTIFICATE-----\n"
        state = CertificateState(
            status=Status.ISSUED,
            serial=serial,
            account_url=account_url,
            certificate_pem=pem,
            issuer_directory_url=issuer,
        )
        spec = CertificateSpec(name=name, domains=(f"{name}.example.com",), directory=directory)
        self.certificates[name] = Certificate(spec, state)
        self.keys[(name, pem)] = f"private key of {name}/{serial}"
        return pem

    def change(self, name: str, **state: Any) -> None:
        """Change fields of a certificate's state (as the issue worker or a revocation would)."""
        cert = self.certificates[name]
        self.certificates[name] = Certificate(cert.spec, replace(cert.state, **state))

    # -- ports.Certificates (what rotation uses) ----------------------------------------------

    def get(self, name: str) -> Certificate:
        """The certificate; CertificateNotFound when it is not managed."""
        if name not in self.certificates:
            raise CertificateNotFound(name)
        return self.certificates[name]

    def all(self) -> Iterator[Certificate]:
        """Every certificate."""
        return iter(list(self.certificates.values()))

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        """Append to the certificate's history."""
        self.histories.setdefault(name, []).append(dict(entry))

    # -- ports.KeyArchive ---------------------------------------------------------------------

    def find_private_key(self, name: str, certificate_pem: str) -> str | None:
        """The private key of that certificate, if it is still archived."""
        return self.keys.get((name, certificate_pem))
