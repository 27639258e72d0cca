"""A small authoritative DNS server for the local stack: TXT answers from what is in Route 53 (moto).

Pebble started with ``-dnsserver`` looks dns-01 records up here, so a certificate it issues proves
that the TXT record was really written to the Route 53 emulator, with the right value, on the right
name. Standard library only (plus boto3 to read Route 53); UDP and TCP on one port of 127.0.0.1.

    python -m acmevault_cli.local.dns --endpoint-url http://127.0.0.1:14566 [--port 8053]
                                  [--role-arn ARN ...] [--records-dir DIR]

Answers: TXT from the hosted zone with the longest name that contains the name asked (across the
default account and every ``--role-arn`` account); any other type at a name that exists, and CAA,
an empty NOERROR; a name in no zone, or in a zone without a record at it, NXDOMAIN. ``--records-dir``
adds records from files (one file per name, one value per line) for tools that do not write to
Route 53, as the benchmark's certbot and lego hooks do.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

TXT, CAA, ANY = 16, 257, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP = 0, 1, 2, 3, 4
UDP_LIMIT = 512  # without EDNS: a longer answer is truncated and asked again over TCP
_QR, _AA, _TC, _RD, _OPCODE = 0x8000, 0x0400, 0x0200, 0x0100, 0x7800

TxtRecords = list[tuple[bytes, ...]]  # one TXT record per item, as its character-strings


class FormatError(ValueError):
    """Not a DNS query we can read."""


@dataclass(frozen=True)
class Query:
    ident: int
    flags: int
    name: str  # lower case, with the final dot
    qtype: int
    question: bytes  # as received, echoed in the answer


@dataclass(frozen=True)
class Lookup:
    """One question and what it was told: tests read these to see what the CA asked."""

    name: str
    qtype: int
    rcode: int
    values: tuple[str, ...]


def parse_query(data: bytes) -> Query:
    if len(data) < 12:
        raise FormatError("shorter than a DNS header")
    ident, flags, qdcount = struct.unpack("!3H", data[:6])
    if flags & _QR or qdcount != 1:
        raise FormatError("not a query with one question")
    labels: list[str] = []
    offset = 12
    while True:
        if offset >= len(data):
            raise FormatError("question name runs past the message")
        length = data[offset]
        offset += 1
        if length == 0:
            break
        if length > 63 or offset + length > len(data):
            raise FormatError("bad label in the question name")
        labels.append(data[offset : offset + length].decode("ascii", "replace").lower())
        offset += length
    if offset + 4 > len(data) or offset - 12 > 255:
        raise FormatError("truncated or overlong question")
    (qtype,) = struct.unpack("!H", data[offset : offset + 2])
    return Query(ident, flags, ".".join(labels) + ".", qtype, data[12 : offset + 4])


def _character_strings(value: bytes) -> tuple[bytes, ...]:
    """A value as DNS character-strings (255 bytes at most each)."""
    return tuple(value[i : i + 255] for i in range(0, len(value), 255)) or (b"",)


def build_response(query: Query, rcode: int, records: TxtRecords, ttl: int = 60, tcp: bool = False) -> bytes:
    flags = _QR | _AA | (query.flags & (_OPCODE | _RD)) | rcode
    answers = b""
    for strings in records:
        rdata = b"".join(bytes([len(s)]) + s for s in strings)
        # The owner name is a pointer to the question's name (offset 12).
        answers += b"\xc0\x0c" + struct.pack("!HHIH", TXT, 1, ttl, len(rdata)) + rdata
    message = struct.pack("!6H", query.ident, flags, 1, len(records), 0, 0) + query.question + answers
    if not tcp and len(message) > UDP_LIMIT:
        return struct.pack("!6H", query.ident, flags | _TC, 1, 0, 0, 0) + query.question
    return message


_DDD = re.compile(r"[0-9]{3}", re.ASCII)  # a \DDD escape: three ASCII digits


def parse_txt_value(value: str) -> tuple[bytes, ...]:
    """A Route 53 TXT value ('"abc" "def"', with \\" and \\DDD escapes) as its character-strings."""
    strings: list[bytes] = []
    i = 0
    while i < len(value):
        if value[i].isspace():
            i += 1
            continue
        current = bytearray()
        quoted = value[i] == '"'
        i += quoted
        while i < len(value) and (value[i] != '"' if quoted else not value[i].isspace()):
            if value[i] == "\\" and _DDD.fullmatch(value[i + 1 : i + 4]):
                current.append(int(value[i + 1 : i + 4]) & 0xFF)
                i += 4
            elif value[i] == "\\" and i + 1 < len(value):
                current += value[i + 1].encode()
                i += 2
            else:
                current += value[i].encode()
                i += 1
        i += quoted  # the closing quote
        strings.extend(_character_strings(bytes(current)))
    return tuple(strings)


# -- where answers come from ---------------------------------------------------------------------


class TxtSource(Protocol):
    def txt(self, name: str) -> TxtRecords | None:
        """The TXT records at ``name`` (a fully qualified, lower-case name); None if there is no such name."""
        ...


class Route53Records:
    """Reads the Route 53 emulator (or any Route 53 endpoint) with the default credentials and, for
    zones in other accounts, as each of ``role_arns``; asked afresh on every query, never cached."""

    def __init__(
        self,
        endpoint_url: str | None,
        role_arns: Sequence[str] = (),
        region: str = "us-east-1",
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
    ) -> None:
        import boto3

        session = boto3.session.Session(
            aws_access_key_id=aws_access_key_id, aws_secret_access_key=aws_secret_access_key, region_name=region
        )
        self._default = session.client("route53", endpoint_url=endpoint_url)
        self._sts = session.client("sts", endpoint_url=endpoint_url)
        self._endpoint_url, self._session = endpoint_url, session
        self._roles: dict[str, tuple[Any, float]] = {}
        self._lock = threading.Lock()
        for role_arn in role_arns:
            self.add_role(role_arn)

    def add_role(self, role_arn: str) -> None:
        """Also read the zones of the account ``role_arn`` is in."""
        with self._lock:
            answer = self._sts.assume_role(RoleArn=role_arn, RoleSessionName="acmevault-local-dns")
            credentials = answer["Credentials"]
            r53 = self._session.client(
                "route53",
                endpoint_url=self._endpoint_url,
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
            )
            self._roles[role_arn] = (r53, credentials["Expiration"].timestamp())

    def _clients(self) -> list[Any]:
        expired = [arn for arn, (_, expiry) in self._roles.items() if expiry - time.time() < 60]
        for role_arn in expired:
            self.add_role(role_arn)
        return [self._default, *(r53 for r53, _ in self._roles.values())]

    def txt(self, name: str) -> TxtRecords | None:
        best: tuple[str, Any, str] | None = None  # (zone name, client, zone id)
        for r53 in self._clients():
            for page in r53.get_paginator("list_hosted_zones").paginate():
                for zone in page["HostedZones"]:
                    zone_name = zone["Name"].lower().rstrip(".") + "."
                    if zone.get("Config", {}).get("PrivateZone", False):
                        continue
                    inside = name == zone_name or name.endswith("." + zone_name)
                    if inside and (best is None or len(zone_name) > len(best[0])):
                        best = (zone_name, r53, zone["Id"])
        if best is None:
            return None
        zone_name, r53, zone_id = best
        page = r53.list_resource_record_sets(HostedZoneId=zone_id, StartRecordName=name, MaxItems="20")
        at_name = [r for r in page["ResourceRecordSets"] if r["Name"].lower().rstrip(".") + "." == name]
        if not at_name and name != zone_name:
            return None
        return [
            parse_txt_value(record["Value"])
            for rrset in at_name
            if rrset["Type"] == "TXT"
            for record in rrset.get("ResourceRecords", [])
        ]


class FileRecords:
    """Records kept as files: ``<directory>/<name without the final dot>``, one TXT value per line."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def txt(self, name: str) -> TxtRecords | None:
        path = self.directory / name.rstrip(".")
        try:
            lines = path.read_text().splitlines()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return [_character_strings(line.strip().encode()) for line in lines if line.strip()]


# -- the server ----------------------------------------------------------------------------------


class LocalDns:
    """Answers DNS queries on ``host``:``port`` (UDP and TCP; port 0: a free one) from ``sources``."""

    def __init__(self, sources: Sequence[TxtSource], host: str = "127.0.0.1", port: int = 0, ttl: int = 60) -> None:
        self.sources = list(sources)
        self.host, self.port, self.ttl = host, port, ttl
        self.lookups: deque[Lookup] = deque(maxlen=10_000)
        self._servers: list[socketserver.BaseServer] = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def answer(self, data: bytes, tcp: bool = False) -> bytes | None:
        """The response to one DNS message; None when it cannot be answered at all."""
        try:
            query = parse_query(data)
        except FormatError:
            if len(data) < 12:
                return None
            ident, flags = struct.unpack("!2H", data[:4])
            return struct.pack("!6H", ident, _QR | (flags & (_OPCODE | _RD)) | FORMERR, 0, 0, 0, 0)
        if query.flags & _OPCODE:
            return build_response(query, NOTIMP, [], tcp=tcp)
        try:
            found = [records for source in self.sources if (records := source.txt(query.name)) is not None]
        except Exception:  # whatever breaks behind us (moto down, a bad file), the client gets SERVFAIL
            log.exception("lookup failed", extra={"query": query.name})
            return build_response(query, SERVFAIL, [], tcp=tcp)
        rcode = NOERROR if found else NXDOMAIN
        records = [r for records in found for r in records] if query.qtype in (TXT, ANY) else []
        values = tuple(b"".join(r).decode("ascii", "replace") for r in records)
        self.lookups.append(Lookup(query.name, query.qtype, rcode, values))
        log.debug(
            "dns query", extra={"query": query.name, "qtype": query.qtype, "rcode": rcode, "answers": len(values)}
        )
        return build_response(query, rcode, records, self.ttl, tcp)

    def asked(self, name: str) -> list[Lookup]:
        """The TXT questions for ``name`` answered so far."""
        fqdn = name.lower().rstrip(".") + "."
        return [lookup for lookup in list(self.lookups) if lookup.name == fqdn and lookup.qtype == TXT]

    def start(self) -> LocalDns:
        for _ in range(20):  # a UDP port that is free may be taken for TCP: try another
            udp = _Udp((self.host, self.port), _UdpHandler)
            udp.dns = self
            try:
                tcp = _Tcp((self.host, udp.server_address[1]), _TcpHandler)
            except OSError:
                udp.server_close()
                if self.port:
                    raise
                continue
            tcp.dns = self
            self.port = int(udp.server_address[1])
            self._servers = [udp, tcp]
            for server in self._servers:
                threading.Thread(target=server.serve_forever, name=f"local-dns-{self.port}", daemon=True).start()
            return self
        raise OSError(f"no port on {self.host} was free for both UDP and TCP")

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> LocalDns:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Udp(socketserver.ThreadingUDPServer):
    daemon_threads = True
    dns: LocalDns


class _Tcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    dns: LocalDns


class _UdpHandler(socketserver.BaseRequestHandler):
    server: _Udp

    def handle(self) -> None:
        data, sock = self.request
        response = self.server.dns.answer(data)
        if response is not None:
            sock.sendto(response, self.client_address)


class _TcpHandler(socketserver.StreamRequestHandler):
    server: _Tcp

    def handle(self) -> None:
        self.connection.settimeout(10)
        try:
            while (prefix := self.rfile.read(2)) and len(prefix) == 2:
                data = self.rfile.read(struct.unpack("!H", prefix)[0])
                response = self.server.dns.answer(data, tcp=True)
                if response is None:
                    return
                self.wfile.write(struct.pack("!H", len(response)) + response)
        except OSError:  # includes the timeout
            return


def answers(address: str, timeout: float = 0.2) -> bool:
    """Whether a DNS server answers on ``address`` (host:port) over UDP: any answer will do."""
    host, port = address.rsplit(":", 1)
    probe = struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\x07example\x03com\x00" + struct.pack("!2H", TXT, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(timeout)
        try:
            udp.sendto(probe, (host, int(port)))
            return len(udp.recv(512)) >= 12
        except OSError:
            return False


# -- running it on its own -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m acmevault_cli.local.dns", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8053, help="UDP and TCP port (0: a free one; default %(default)s)")
    parser.add_argument("--endpoint-url", help="the Route 53 endpoint (moto); default: AWS_ENDPOINT_URL")
    parser.add_argument("--role-arn", action="append", default=[], help="also read zones as this role (repeatable)")
    parser.add_argument("--records-dir", type=Path, help="also answer from files: DIR/<name>, a value per line")
    parser.add_argument("--no-route53", action="store_true", help="answer from --records-dir only")
    args = parser.parse_args(argv)
    sources: list[TxtSource] = []
    if not args.no_route53:
        sources.append(Route53Records(args.endpoint_url, args.role_arn))
    if args.records_dir is not None:
        args.records_dir.mkdir(parents=True, exist_ok=True)
        sources.append(FileRecords(args.records_dir))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with LocalDns(sources, args.host, args.port) as server:
        print(f"local DNS listening on {server.address} (UDP and TCP)", file=sys.stderr, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
