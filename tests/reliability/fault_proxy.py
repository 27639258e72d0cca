"""A fault-injecting HTTPS proxy in front of the real Pebble: a fault injector, not a fake CA.

Every request is forwarded to Pebble unchanged (the Host header too: Pebble builds every URL it
hands out from it, so the client keeps talking to the proxy), unless the seeded RNG picks a fault:

    burst         the next 1..3 requests (whoever sends them) get a 5xx: an ACME problem
                  (500 serverInternal), or a load balancer's 502 / 503 / 504 page; the CA never sees them
    rate_limited  429 rateLimited with Retry-After: 1; the CA never sees it
    reset_before  the connection is reset after the request was read; the CA never sees it
    reset_after   the request reaches the CA, which acts on it; its answer is lost in a reset
    slow          the answer is held back 0.2..1.0 s (well under the client's timeout)

and, when a test arms it, answers one newOrder with the previous newOrder's answer (another order,
for other names), so the client's check of the CA's order against its spec can be seen to work.

It can also hold orders, as a CA that waits for an approval does (DigiCert: an order "processing"
for minutes to days, with Retry-After): with ``hold`` set, every order answer (the order itself and
the finalize answer) Pebble gives as processing or valid reaches the client as "processing", without
its certificate URL and with the hold's Retry-After, until the hold's time has passed for that order
(or it is released); then the order is let through as Pebble has it, or rewritten to "invalid" with
the hold's problem document (the approver said no).

With ``certificates`` set, every certificate download (the full chain PEM) is passed through it: a test
stands in for what Pebble cannot issue (a DigiCert SXG certificate) by re-signing Pebble's leaf.

It terminates TLS with the local stack's own listener certificate (signed by the CA in
REQUESTS_CA_BUNDLE, with 127.0.0.1 in its names), so nothing about trust changes for the client.
It counts what it injected, and reads the identifiers of every newOrder from its JWS payload, so a
test knows which orders Pebble placed for which name, including those whose answer was lost.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import random
import socket
import ssl
import struct
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from acmevault_cli.local.stack import LocalStack

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade", "te"}
FAULT_KINDS = ("burst", "rate_limited", "reset_before", "reset_after", "slow")


@dataclass(frozen=True)
class FaultMix:
    """Probability per request that a fault starts (a burst then takes the next few requests too)."""

    burst: float = 0.04
    rate_limited: float = 0.03
    reset_before: float = 0.03
    reset_after: float = 0.02
    slow: float = 0.05
    burst_length: tuple[int, int] = (1, 3)
    retry_after_seconds: int = 1
    slow_seconds: tuple[float, float] = (0.2, 1.0)


# The 5xx answers of a burst: an ACME problem document, or what a load balancer in front of the CA sends.
BURST_ANSWERS = (
    (500, "application/problem+json", "serverInternal"),
    (502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
    (503, "text/html", "<html><body><h1>503 Service Unavailable</h1></body></html>"),
    (504, "text/plain", "upstream request timeout"),
)


@dataclass
class OrderHold:
    """Orders held "processing", as a CA awaiting an approval keeps them."""

    retry_after: int = 2  # the Retry-After sent with every held answer, in seconds
    seconds: float | None = None  # real seconds each order is held from its first held answer; None: until released
    released: bool = False
    refusal: str | None = None  # once let go: None lets Pebble's order through; a detail: "invalid" with it

    def holding(self, first_seen: float) -> bool:
        if self.released:
            return False
        return self.seconds is None or time.monotonic() - first_seen < self.seconds


_ORDER_PATHS = ("/my-order/", "/finalize-order/")


def _problem(kind: str, detail: str, status: int) -> bytes:
    return json.dumps({"type": f"urn:ietf:params:acme:error:{kind}", "detail": detail, "status": status}).encode()


class FaultProxy:
    def __init__(self, upstream: LocalStack, seed: int, mix: FaultMix | None = None) -> None:
        self.upstream = upstream
        self.mix = mix or FaultMix()
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._burst_left = 0
        self._burst_answer = BURST_ANSWERS[0]
        self.enabled = False
        self.requests = 0
        self.injected: Counter[str] = Counter()  # fault kind -> requests it hit
        self.statuses: Counter[int] = Counter()  # injected 5xx/429 statuses
        # newOrder bookkeeping: identifier -> order URLs Pebble created (from its Location header),
        # and the order URLs whose answer this proxy dropped after Pebble had placed them.
        self.orders: defaultdict[str, list[str]] = defaultdict(list)
        self.lost_order_answers: list[str] = []
        # armed by a test: the next newOrder is answered with the previous newOrder's answer (an order for
        # other names), as a CA or a cache in front of it that mixes up answers would
        self.replay_next_order = False
        self._last_order: tuple[int, list[tuple[str, str]], bytes] | None = None
        self.hold: OrderHold | None = None
        self.certificates: Callable[[str], str] | None = None  # rewrites downloaded full chains (PEM)
        self.held_answers = 0  # order answers rewritten to "processing"
        self._first_held: dict[str, float] = {}
        self._server: ThreadingHTTPServer | None = None
        self._upstream_context = ssl.create_default_context(cafile=str(upstream.ca_bundle))

    # -- what tests use -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def orders_for(self, identifier: str) -> list[str]:
        with self._lock:
            return list(self.orders.get(identifier, ()))

    def all_orders(self) -> list[str]:
        with self._lock:
            return [url for urls in self.orders.values() for url in urls]

    def faults(self) -> int:
        with self._lock:
            return sum(self.injected.values())

    # -- the fault decision ---------------------------------------------------------------------

    def _decide(self) -> tuple[str | None, Any]:
        """One draw per request, under the lock: the sequence of faults is fixed by the seed."""
        with self._lock:
            self.requests += 1
            if not self.enabled:
                return None, None
            if self._burst_left > 0:
                self._burst_left -= 1
                self.injected["burst"] += 1
                self.statuses[self._burst_answer[0]] += 1
                return "burst", self._burst_answer
            mix, draw = self.mix, self._rng.random()
            for kind in FAULT_KINDS:
                chance = getattr(mix, kind)
                if draw < chance:
                    break
                draw -= chance
            else:
                return None, None
            self.injected[kind] += 1
            if kind == "burst":
                self._burst_answer = self._rng.choice(BURST_ANSWERS)
                self._burst_left = self._rng.randint(*mix.burst_length) - 1
                self.statuses[self._burst_answer[0]] += 1
                return kind, self._burst_answer
            if kind == "rate_limited":
                self.statuses[429] += 1
            if kind == "slow":
                return kind, self._rng.uniform(*mix.slow_seconds)
            return kind, None

    def _observe(self, method: str, path: str, body: bytes, status: int, headers: dict[str, str], lost: bool) -> None:
        if method != "POST" or not path.startswith("/order-plz") or status != 201:
            return
        identifiers = _order_identifiers(body)
        url = headers.get("location", "")
        with self._lock:
            self.orders[identifiers[0] if identifiers else "?"].append(url)
            if lost:
                self.lost_order_answers.append(url)

    def _order_answer(
        self, method: str, path: str, answer: tuple[int, list[tuple[str, str]], bytes]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """A newOrder answer as sent on: the one Pebble gave, or (when armed) the previous newOrder's."""
        if method != "POST" or not path.startswith("/order-plz") or answer[0] != 201:
            return answer
        with self._lock:
            previous, self._last_order = self._last_order, answer
            if self.replay_next_order and previous is not None:
                self.replay_next_order = False
                self.injected["order_replayed"] += 1
                return previous
        return answer

    def _rewrite_order(self, path: str, status: int, data: bytes) -> tuple[bytes, dict[str, str]]:
        """An order answer as a CA holding the order for approval would give it (see the module docstring)."""
        hold = self.hold
        if hold is None or status != 200 or not path.startswith(_ORDER_PATHS):
            return data, {}
        try:
            order = json.loads(data)
        except ValueError:
            return data, {}
        if not isinstance(order, dict) or order.get("status") not in ("processing", "valid"):
            return data, {}
        order_id = path.rsplit("/", 1)[-1]
        with self._lock:
            first = self._first_held.setdefault(order_id, time.monotonic())
            held = hold.holding(first)
            self.held_answers += held
        if held:
            order = {**{k: v for k, v in order.items() if k != "certificate"}, "status": "processing"}
            return json.dumps(order).encode(), {"Retry-After": str(hold.retry_after)}
        if hold.refusal is not None:
            problem = {"type": "urn:ietf:params:acme:error:unauthorized", "detail": hold.refusal, "status": 403}
            order = {**{k: v for k, v in order.items() if k != "certificate"}, "status": "invalid", "error": problem}
            return json.dumps(order).encode(), {}
        return data, {}

    # -- forwarding ---------------------------------------------------------------------------------

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, bytes]:
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.upstream.pebble_port, context=self._upstream_context, timeout=30
        )
        try:
            connection.request(method, path, body=body if method != "GET" else None, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        proxy = self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        state = self.upstream.state_dir
        context.load_cert_chain(state / "pebble-tls.pem", state / "pebble-tls.key")

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Pebble speaks it

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._handle()

            def do_HEAD(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                kind, detail = proxy._decide()
                if kind == "reset_before":
                    self._reset()
                    return
                if kind == "burst":
                    status, content_type, text = detail
                    data = _problem(text, "injected by the fault proxy", status) if status == 500 else text.encode()
                    self._answer(status, [("Content-Type", content_type)], data)
                    return
                if kind == "rate_limited":
                    retry = str(proxy.mix.retry_after_seconds)
                    data = _problem("rateLimited", "injected by the fault proxy: slow down", 429)
                    self._answer(429, [("Content-Type", "application/problem+json"), ("Retry-After", retry)], data)
                    return
                if kind == "slow":
                    time.sleep(detail)
                forward = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                try:
                    status, headers, data = proxy._forward(self.command, self.path, forward, body)
                except OSError:
                    self._reset()  # Pebble unreachable: the client sees what it would see without us
                    return
                lowered = {k.lower(): v for k, v in headers}
                proxy._observe(self.command, self.path, body, status, lowered, lost=kind == "reset_after")
                if kind == "reset_after":
                    self._reset()
                    return
                status, headers, data = proxy._order_answer(self.command, self.path, (status, list(headers), data))
                data, extra = proxy._rewrite_order(self.path, status, data)
                if proxy.certificates is not None and self.path.startswith("/certZ/") and status == 200:
                    data = proxy.certificates(data.decode()).encode()
                kept = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() != "retry-after"]
                if not extra:
                    kept = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
                self._answer(status, kept + list(extra.items()), data)

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response_only(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                self.wfile.flush()

            def _reset(self) -> None:
                """Close with SO_LINGER 0: the client gets a TCP reset, no answer."""
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request: Any, client_address: Any) -> None:
                # TLS per connection, in the connection's own thread: a slow handshake holds up no one else
                try:
                    tls = context.wrap_socket(request, server_side=True)
                except (OSError, ssl.SSLError):
                    return
                try:
                    self.RequestHandlerClass(tls, client_address, self)
                finally:
                    with contextlib.suppress(OSError):
                        tls.close()

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a reset we made ourselves is not news

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _order_identifiers(body: bytes) -> list[str]:
    """The identifiers of a newOrder request, from its JWS payload (signed, not encrypted)."""
    try:
        payload = json.loads(body)["payload"]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return [str(i["value"]) for i in decoded.get("identifiers", [])]
    except (ValueError, KeyError, TypeError):
        return []
