#!/usr/bin/env python3
"""dns-01 benchmark with real lookups: acmevault, certbot and lego prove the same names to one Pebble
that really validates, looking every record up in one DNS server.

    python bench/dns01.py [--runs 10] [--tools acmevault-inprocess,acmevault,certbot,lego]

It starts its own stack on free ports in a temporary directory: moto, the DNS server
(``python -m acmevault_cli.local.dns``, a process of its own) and a Pebble started with
``-dnsserver`` and without PEBBLE_VA_ALWAYS_VALID, PEBBLE_AUTHZREUSE=0 (every order is validated)
and PEBBLE_VA_NOSLEEP=1. The DNS server answers TXT queries from Route 53 (moto), where acmevault
writes, and from a directory of files, where certbot's manual hooks and lego's exec provider write
(one file per record name, one value per line). Each tool issues one untimed warm-up certificate and
then --runs certificates for fresh one-name EC P-256 certificates, each timed around exactly one
issuance, as in bench/run.py, whose tools and checks this reuses:

  acmevault-inprocess  issue_certificate() with challenge dns-01, services built once (a warm container)
  acmevault            `acmevault cert issue NAME` (challenge dns-01), a whole process
  certbot              `certbot certonly --manual --preferred-challenges dns` with auth and cleanup hooks
  lego                 `lego --dns exec --dns.resolvers <the DNS server> --dns.disable-cp run`

Markdown to stdout, progress to stderr, every figure to bench/results/dns01.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import run as bench  # bench/run.py, next to this file: the tools, the checks and the statistics
from run import BenchError, Context, progress

RESULTS = Path(__file__).resolve().parent / "results" / "dns01.json"
TOOLS = ("acmevault-inprocess", "acmevault", "certbot", "lego")
PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_AUTHZREUSE": "0", "PEBBLE_WFE_NONCEREJECT": "0"}


@dataclass
class Dns01Context(Context):
    """bench.Context plus where the DNS server listens and the directory of file-kept records."""

    dns_address: str = ""
    records: Path = field(default_factory=Path)


# -- the tools: bench/run.py's, proving with dns-01 and real lookups -------------------------------


class AcmevaultInProcess(bench.AcmevaultInProcess):
    def prepare(self, index: int) -> None:
        from acmevault.app.definition import define_certificate
        from acmevault.domain.certificate import CertificateSpec

        spec = CertificateSpec.parse(
            self.cert_name(index),
            {"domains": [self.domain(index)], "directory": bench.DIRECTORY, "challenge": "dns-01"},
        )
        define_certificate(spec, self.services)

    def describe(self) -> str:
        return "issue_certificate(NAME, services, deadline), challenge dns-01 in Route 53 (moto), services built once"


class AcmevaultCli(bench.AcmevaultCli):
    def prepare(self, index: int) -> None:
        name, domain = self.cert_name(index), self.domain(index)
        argv = [self.cli, "cert", "put", name, "-d", domain, "--directory", bench.DIRECTORY, "--challenge", "dns-01"]
        bench.run(argv, self.env, self.log)

    def describe(self) -> str:
        return "acmevault cert issue NAME, challenge dns-01 in Route 53 (moto); a new process"


def dns_ctx(ctx: Context) -> Dns01Context:
    """The tools' shared classes hold a bench.Context; here it is always a Dns01Context."""
    assert isinstance(ctx, Dns01Context)
    return ctx


def hook(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\nset -e\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


class Certbot(bench.Certbot):
    def setup(self) -> None:
        records = dns_ctx(self.ctx).records
        self.auth_hook = hook(
            self.ctx.work / "certbot-auth.sh",
            f'echo "$CERTBOT_VALIDATION" >> "{records}/_acme-challenge.$CERTBOT_DOMAIN"\n',
        )
        self.cleanup_hook = hook(
            self.ctx.work / "certbot-cleanup.sh", f'rm -f "{records}/_acme-challenge.$CERTBOT_DOMAIN"\n'
        )
        # The EAB key from a config file, not argv: a key that starts with "-" reads as an option there.
        config = self.ctx.work / "certbot-eab.ini"
        config.write_text(f"eab-kid = {bench.EAB_KID['certbot']}\neab-hmac-key = {self.ctx.hmac('certbot')}\n")
        config.chmod(0o600)
        argv = [self.certbot, "register", "--config", str(config), *self.common(), "--agree-tos", "-m", bench.EMAIL]
        bench.run([*argv, "--no-eff-email"], self.env, self.log)

    def issue(self, index: int) -> None:
        argv = [
            self.certbot,
            "certonly",
            *self.common(),
            *("--manual", "--preferred-challenges", "dns"),
            *("--manual-auth-hook", self.auth_hook, "--manual-cleanup-hook", self.cleanup_hook),
            *("--key-type", "ecdsa", "--elliptic-curve", "secp256r1"),
            *("--cert-name", self.domain(index), "-d", self.domain(index)),
        ]
        bench.run(argv, self.env, self.log)

    def describe(self) -> str:
        return "certbot certonly --manual --preferred-challenges dns, hooks write/remove the record file"


class Lego(bench.Lego):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        records = dns_ctx(ctx).records
        # lego passes the FQDN with its final dot; the file is named without it.
        self.program = hook(
            ctx.work / "lego-exec.sh",
            f'name="${{2%.}}"\ncase "$1" in\n  present) echo "$3" >> "{records}/$name" ;;\n'
            f'  cleanup) rm -f "{records}/$name" ;;\nesac\n',
        )

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "EXEC_PATH": self.program}

    def issue(self, index: int) -> None:
        argv = [
            self.lego,
            *(
                "--server",
                self.ctx.directory_url,
                "--eab",
                "--kid",
                bench.EAB_KID["lego"],
                f"--hmac={self.ctx.hmac('lego')}",  # "=": a base64url key may start with "-"
            ),
            *("--email", bench.EMAIL, "--accept-tos", "--path", str(self.home), "--key-type", "ec256"),
            *("--dns", "exec", "--dns.resolvers", dns_ctx(self.ctx).dns_address, "--dns.disable-cp"),
            *("--domains", self.domain(index), "run"),
        ]
        bench.run(argv, self.env, self.log)

    def describe(self) -> str:
        return (
            "lego --dns exec (the program writes/removes the record file) --dns.resolvers <the DNS server> "
            "--dns.disable-cp run; account registered by the warm-up run"
        )


TOOL_CLASSES: dict[str, Callable[[Context], bench.Tool]] = {
    "acmevault-inprocess": AcmevaultInProcess,
    "acmevault": AcmevaultCli,
    "certbot": Certbot,
    "lego": Lego,
}


# -- the stack -------------------------------------------------------------------------------------


@contextmanager
def local_stack() -> Iterator[Dns01Context]:
    """moto, the DNS server and a validating Pebble on free ports, in a temporary directory removed at
    the end (kept, and said where, when the block raises); os.environ carries the stack's variables."""
    from acmevault_cli.local.dns import answers
    from acmevault_cli.local.stack import LocalStack, free_port

    bench.require_binary("pebble")
    work = Path(tempfile.mkdtemp(prefix="acmevault-bench-dns01-"))
    records = work / "records"
    ports: set[int] = set()
    while len(ports) < 4:  # the kernel may hand the same free port out twice
        ports.add(free_port())
    pebble_port, management_port, moto_port, dns_port = sorted(ports)
    dns_address = f"127.0.0.1:{dns_port}"
    stack = LocalStack(
        work / "stack",
        pebble_port=pebble_port,
        management_port=management_port,
        moto_port=moto_port,
        name="acmevault-bench",
        pebble_env=PEBBLE_ENV,
        dns_server=dns_address,
    )
    base_env = dict(os.environ)
    dns: subprocess.Popen[bytes] | None = None
    failed = True
    try:
        progress(f"starting moto, the DNS server and a validating Pebble (state in {work}) ...")
        stack_env = stack.up()
        os.environ.update(stack_env)  # before any acmevault adapter builds an AWS client
        with (work / "dns.log").open("ab") as log:
            dns = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "acmevault_cli.local.dns",
                    "--port",
                    str(dns_port),
                    "--records-dir",
                    str(records),
                ],
                env={**base_env, **stack_env},
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 30
        while not answers(dns_address):
            if dns.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the DNS server did not start: {(work / 'dns.log').read_text()[-1500:]}")
            time.sleep(0.05)
        yield Dns01Context(stack, stack_env, base_env, work, dns_address=dns_address, records=records)
        failed = False
    finally:
        if dns is not None:
            dns.terminate()
            dns.wait(10)
        stack.down()
        for name in [n for n in os.environ if n not in base_env]:
            os.environ.pop(name, None)
        if failed:
            progress(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


# -- main ------------------------------------------------------------------------------------------


def markdown(results: dict[str, Any]) -> str:
    host = results["machine"]
    lines = [
        (
            f"dns-01 issuance wall time per certificate, {results['runs']} certificates per tool "
            f"(Pebble {results['pebble']} really validating: every record looked up in one DNS server on 127.0.0.1)."
        ),
        f"Machine: {host['nproc']} CPUs ({host['cpu']}), Python {host['python']}, {host['platform']}.",
        "",
        "| tool | version | median (s) | min (s) | p90 (s) | max (s) | warm-up (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, tool in results["tools"].items():
        figures = " | ".join(f"{tool[k]:.3f}" for k in ("median", "min", "p90", "max", "warmup_seconds"))
        lines.append(f"| {name} | {tool['version']} | {figures} |")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="timed certificates per tool (default %(default)s)")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated, from: %(default)s")
    args = parser.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in args.tools if t not in TOOLS]
    if unknown or not args.tools:
        parser.error(f"--tools: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(TOOLS)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    if "lego" in args.tools:
        bench.require_binary("lego")
    if "certbot" in args.tools:
        bench.ensure_certbot()
    started = datetime.now(UTC)
    with local_stack() as ctx:
        tools = {name: bench.measure(TOOL_CLASSES[name](ctx), args.runs) for name in args.tools}
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "runs": args.runs,
        "machine": bench.machine(),
        "pebble": bench.debian_version("pebble"),
        "pebble_env": PEBBLE_ENV,
        "pebble_flags": "-dnsserver 127.0.0.1:<the DNS server>",
        "unit": "seconds of wall time per certificate",
        "tools": tools,
    }


def main(argv: list[str] | None = None) -> int:
    return bench.run_and_report(benchmark, parse_args(sys.argv[1:] if argv is None else argv), RESULTS, markdown)


if __name__ == "__main__":
    sys.exit(main())
