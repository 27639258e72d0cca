"""DigiCert CertCentral's Services API, for one job: ACME directory URLs (EAB credentials). Off by default.

With ``ACMEVAULT_CERTCENTRAL_SECRET`` naming a Secrets Manager secret of its own, holding

    {"api_key": "...",                         the CertCentral API key (sent as X-DC-DEVKEY)
     "organization_id": 123456,                what new ACME credentials are created for, unless the
     "product_name_id": "ssl_plus",              lost one's own settings can be read back
     "validity_days": 90, "order_validity_days": 365,
     "container_id": 789,                      optional (division)
     "base_url": "https://www.digicert.com/services/v2"}   optional

a lost-URL rotation can create its replacement here (the response carries the directory URL,
KID and HMAC key, shown once: they go straight into Secrets Manager) and revoke the lost one
(its key status becomes ``revoked``), so nobody copies a credential by hand.

The requests follow CertCentral's Services API: ``POST /key/acme-url`` creates an ACME
directory URL, ``GET /key/{id}`` reads a key's settings, ``PUT /key/{id}/revoke`` revokes it.
The response fields read below (``RESPONSE_FIELDS``) are the contract tests/fakes/certcentral.py
serves; check them against your account's API documentation before turning this on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from acmevault.domain.directory import CreatedCredential, DirectoryCredential
from acmevault.domain.errors import CaError, CaUnavailable, ConfigurationError, CredentialRejected

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.digicert.com/services/v2"
TIMEOUT = 20
# What a new ACME credential is created with, taken from the lost one when CertCentral shows it.
TEMPLATE_FIELDS = ("product_name_id", "organization_id", "validity_days", "order_validity_days", "container_id")
RESPONSE_FIELDS = {"id": "id", "directory_url": "acme_directory_url", "kid": "eab_kid", "hmac": "eab_hmac_key"}


@dataclass(frozen=True)
class CertCentralSettings:
    """How to reach CertCentral (its API key, never shown) and the template new ACME credentials copy."""

    api_key: str = field(repr=False)
    template: Mapping[str, Any] = field(default_factory=dict)
    base_url: str = DEFAULT_BASE_URL

    @classmethod
    def from_secret(cls, data: Any) -> CertCentralSettings:
        """From the CertCentral secret's JSON; the message names what is missing, never a value."""
        if not isinstance(data, Mapping) or not isinstance(data.get("api_key"), str) or not data["api_key"]:
            raise ConfigurationError("the CertCentral secret must be a JSON object with an api_key")
        base_url = str(data.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        if urlsplit(base_url).scheme != "https":
            raise ConfigurationError("the CertCentral base_url must be an https URL")
        template = {k: data[k] for k in TEMPLATE_FIELDS if data.get(k) not in (None, "")}
        return cls(api_key=data["api_key"], template=template, base_url=base_url)


class CertCentral:
    """The few CertCentral Services API calls a lost-URL rotation needs (``ports.CredentialProvider``);
    errors become acmevault's."""

    def __init__(self, settings: CertCentralSettings, http: requests.Session | None = None) -> None:
        self._settings = settings
        self._http = http

    def create_acme_credential(self, name: str, like_key_id: str | None = None) -> CreatedCredential:
        """A new ACME directory URL with EAB, for the same product, organization and validity as the
        key ``like_key_id`` (the lost one) when CertCentral shows it, else as the secret's template."""
        settings = dict(self._settings.template)
        if like_key_id is not None:
            lost = self._call("GET", f"/key/{like_key_id}", "reading the lost ACME credential's settings")
            settings.update({k: lost[k] for k in TEMPLATE_FIELDS if lost.get(k) not in (None, "")})
        missing = [k for k in ("product_name_id", "organization_id", "validity_days") if k not in settings]
        if missing:
            raise ConfigurationError(f"CertCentral: no {', '.join(missing)} for the new ACME credential")
        body = {"name": f"acmevault {name}", **settings, "external_account_binding": True}
        created = self._call("POST", "/key/acme-url", "creating an ACME credential", body)
        try:
            credential = DirectoryCredential(
                directory_url=str(created[RESPONSE_FIELDS["directory_url"]]),
                eab_kid=str(created[RESPONSE_FIELDS["kid"]]),
                eab_hmac_key=str(created[RESPONSE_FIELDS["hmac"]]),
            )
            key_id = str(created[RESPONSE_FIELDS["id"]])
        except KeyError as missing_field:
            raise CaError(f"CertCentral: the new ACME credential has no {missing_field.args[0]!r} field") from None
        log.info("ACME credential created at CertCentral", extra={"directory": name, "certcentral_key_id": key_id})
        return CreatedCredential(key_id, credential)

    def revoke_key(self, key_id: str) -> None:
        """Revoke an ACME credential (its directory URL and EAB key stop working at DigiCert)."""
        self._call("PUT", f"/key/{key_id}/revoke", "revoking the lost ACME credential")
        log.info("ACME credential revoked at CertCentral", extra={"certcentral_key_id": key_id})

    def _call(self, method: str, path: str, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        import requests  # here, at the first call: only a lost-URL rotation makes one

        if self._http is None:
            self._http = requests.Session()
        url = self._settings.base_url + path
        headers = {"X-DC-DEVKEY": self._settings.api_key, "Accept": "application/json"}
        try:
            response = self._http.request(method, url, json=body, headers=headers, timeout=TIMEOUT)
        except requests.exceptions.SSLError:
            raise CaUnavailable(f"CertCentral: {action}: TLS verification failed for {url}") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
            raise CaUnavailable(f"CertCentral: {action}: cannot reach {url}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise CaUnavailable(f"CertCentral: {action}: HTTP {response.status_code}")
        if response.status_code in (401, 403):
            raise CredentialRejected(f"CertCentral: {action}: the API key was refused (HTTP {response.status_code})")
        if response.status_code >= 400:
            raise CaError(f"CertCentral: {action}: {_errors(response)}")
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise CaError(f"CertCentral: {action}: the answer is not JSON") from None
        if not isinstance(data, dict):
            raise CaError(f"CertCentral: {action}: the answer is not a JSON object")
        return data


def _errors(response: requests.Response) -> str:
    """CertCentral's error codes and messages ({"errors": [{"code", "message"}]}), never the request."""
    try:
        errors = response.json().get("errors") or []
        text = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError):
        text = ""
    return text or f"HTTP {response.status_code}"
