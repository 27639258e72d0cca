"""A LOCAL FAKE of DigiCert CertCentral's Services API — a stand-in for a vendor API, not DigiCert's code.

It serves only what acmevault.adapters.certcentral calls, with the request and response fields that
adapter reads (see RESPONSE_FIELDS there):

    POST /services/v2/key/acme-url     create an ACME directory URL with EAB → id, directory URL, KID, HMAC
    GET  /services/v2/key/{id}         a key's settings (product, organization, validity, status; no HMAC)
    PUT  /services/v2/key/{id}/revoke  revoke it (status "revoked")

The credentials it hands out are ones the local Pebble knows (its externalAccountMACKeys,
kid-1 .. kid-3), so a rotation that gets its new credential here registers a real account at a
real ACME server. Pebble itself is not told about a revocation here: the fake only records it.
It listens on 127.0.0.1 with the local stack's TLS certificate, so the adapter talks HTTPS to it
through REQUESTS_CA_BUNDLE like to any other endpoint.
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from acmevault_cli.local.stack import LocalStack

REQUIRED = ("name", "product_name_id", "organization_id", "validity_days")


@dataclass
class FakeCertCentral:
    stack: LocalStack
    api_key: str
    kids: tuple[str, ...] = ("kid-3", "kid-2")  # handed out in turn
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → settings and status
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # method, path, body
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}/services/v2"

    def add_key(self, kid: str, **settings: Any) -> str:
        """A key CertCentral already has (made before acmevault knew it), with its settings."""
        key_id = str(1000 + len(self.keys))
        self.keys[key_id] = {"id": key_id, "status": "active", "eab_kid": kid, **settings}
        return key_id

    def start(self) -> FakeCertCentral:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                fake.requests.append((method, self.path, body))
                if self.headers.get("X-DC-DEVKEY") != fake.api_key:
                    self._answer(401, {"errors": [{"code": "invalid_api_key", "message": "API key is invalid"}]})
                    return
                parts = self.path.removeprefix("/services/v2/").strip("/").split("/")
                if method == "POST" and parts == ["key", "acme-url"]:
                    self._create(body)
                elif method == "GET" and len(parts) == 2 and parts[0] == "key" and parts[1] in fake.keys:
                    key = fake.keys[parts[1]]
                    self._answer(200, {k: v for k, v in key.items() if k != "eab_hmac_key"})
                elif method == "PUT" and len(parts) == 3 and parts[0] == "key" and parts[2] == "revoke":
                    if parts[1] not in fake.keys:
                        self._answer(404, {"errors": [{"code": "not_found", "message": "no such key"}]})
                        return
                    fake.keys[parts[1]]["status"] = "revoked"
                    self._answer(204)
                else:
                    self._answer(404, {"errors": [{"code": "not_found", "message": "no such endpoint"}]})

            def _create(self, body: dict[str, Any]) -> None:
                missing = [k for k in REQUIRED if k not in body]
                if missing or body.get("external_account_binding") is not True:
                    message = f"missing {', '.join(missing)}" if missing else "external_account_binding must be true"
                    self._answer(400, {"errors": [{"code": "invalid_input", "message": message}]})
                    return
                kid = fake.kids[sum(1 for k in fake.keys.values() if k.get("made_here")) % len(fake.kids)]
                key_id = fake.add_key(kid, made_here=True, **{k: v for k, v in body.items() if k != "name"})
                answer = {
                    "id": key_id,
                    "acme_directory_url": fake.stack.directory_url,
                    "eab_kid": kid,
                    "eab_hmac_key": fake.stack.eab_keys()[kid],
                }
                self._answer(201, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.stack.state_dir / "pebble-tls.pem", self.stack.state_dir / "pebble-tls.key")
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
