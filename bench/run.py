#!/usr/bin/env python3
"""Issuance benchmark: acmevault, certbot and lego issue the same certificates from one local Pebble.

    python bench/run.py [--runs 10] [--tools acmevault,acmevault-inprocess,certbot,lego]
    python bench/run.py sweep [--count 100] ...   the renewal sweep benchmark: see bench/sweep.py

It starts its own local stack (Pebble with EAB required, and moto) on free ports in a temporary
directory, so a stack already running on the default ports is left alone. Each tool registers its
ACME account and issues one untimed warm-up certificate, then issues --runs certificates for fresh
names (bench-<tool>-<i>.example.com), each timed by wall clock around exactly one issuance:

  acmevault            `acmevault cert issue NAME`, a whole process (the spec is put beforehand, untimed)
  acmevault-inprocess  issue_certificate() in this process, on services built once (a warm container)
  certbot              `certbot certonly --manual` (dns-01, hooks are /bin/true), account registered beforehand
  lego                 `lego run --http`, account registered by the warm-up run

Every certificate is checked after its timing (SAN and EC P-256 key). The Markdown table goes to
stdout, progress to stderr, and every figure to bench/results/issue.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT_VENV = ROOT / ".venv"
BENCH_VENV = ROOT / ".venv-bench"
CERTBOT_REQUIREMENTS = Path(__file__).resolve().parent / "requirements-certbot.txt"
RESULTS = Path(__file__).resolve().parent / "results" / "issue.json"
TOOLS = ("acmevault", "acmevault-inprocess", "certbot", "lego")
EMAIL = "bench@example.com"
ZONE = "example.com"
DIRECTORY = "bench"  # the acmevault directory both acmevault variants issue from
RUN_TIMEOUT = 120.0  # seconds for one issuance, any tool
# One EAB key per client, so each registers its own account. They are Pebble's throwaway test keys,
# made up by this run's stack: certbot and lego take them on argv because that is how those tools
# work. acmevault itself never takes the HMAC key on argv; it reads it on stdin.
EAB_KID = {"acmevault": "kid-1", "certbot": "kid-2", "lego": "kid-3"}
HMAC_FLAGS = ("--hmac", "--eab-hmac-key")
# Pebble rejects 5% of nonces by default to exercise client retries; that is noise here.
PEBBLE_ENV = {"PEBBLE_WFE_NONCEREJECT": "0"}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class BenchError(Exception):
    """A prerequisite is missing or a tool failed; the message says which and what to do."""


# -- prerequisites ---------------------------------------------------------------------------------


def ensure_project_python() -> None:
    """Run under the project's venv (acmevault, moto, boto3), re-executing there when started elsewhere."""
    try:
        import acmevault_cli.local.stack  # noqa: F401
    except ImportError:
        python = PROJECT_VENV / "bin" / "python"
        if Path(sys.prefix).resolve() != PROJECT_VENV.resolve() and python.exists():
            # sys.argv[0]: the script that was started (run.py, or sweep.py started directly)
            os.execv(python, [str(python), sys.argv[0], *sys.argv[1:]])  # noqa: S606 - our own script, our own venv
        raise BenchError(
            f"acmevault is not importable and {python} does not exist: "
            f"python3 -m venv .venv && .venv/bin/pip install -e 'layers/acmevault[local]'"
        ) from None


def require_binary(name: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not os.access(path, os.X_OK):
        raise BenchError(f"{name} is not installed: apt-get install {name}")
    return path


def ensure_certbot() -> Path:
    """certbot in its own venv (.venv-bench), created on first use: the benchmark's setup step."""
    certbot = BENCH_VENV / "bin" / "certbot"
    if certbot.exists():
        return certbot
    progress(f"setting up certbot in {BENCH_VENV} (first run only) ...")
    python = BENCH_VENV / "bin" / "python"
    for argv in (
        [sys.executable, "-m", "venv", str(BENCH_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(CERTBOT_REQUIREMENTS)],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BenchError(f"could not install certbot: {' '.join(argv)} failed:\n{result.stderr[-1500:]}")
    return certbot


def command_output(argv: list[str]) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except OSError:
        return "unknown"
    return (result.stdout or result.stderr).strip() or "unknown"


def debian_version(package: str) -> str:
    return command_output(["dpkg-query", "-W", "-f=${Version}", package])


# -- the tools -------------------------------------------------------------------------------------


@dataclass
class Context:
    stack: Any  # acmevault_cli.local.stack.LocalStack
    stack_env: dict[str, str]  # what the stack's `up` returned
    base_env: dict[str, str]  # this process's environment before the stack's variables were added
    work: Path  # the run's temporary directory

    @property
    def directory_url(self) -> str:
        return str(self.stack.directory_url)

    def hmac(self, tool: str) -> str:
        return str(self.stack.eab_keys()[EAB_KID[tool]])


def redacted(argv: list[str]) -> list[str]:
    """The command line for a log, without the HMAC key (--hmac=KEY, --eab-hmac-key=KEY, or as the next word)."""
    hidden = []
    for before, arg in zip(["", *argv], argv, strict=False):
        flag = arg.split("=", 1)[0]
        if before in HMAC_FLAGS:
            hidden.append("***")
        elif flag in HMAC_FLAGS and "=" in arg:
            hidden.append(f"{flag}=***")
        else:
            hidden.append(arg)
    return hidden


def run(
    argv: list[str], env: dict[str, str], log: Path, stdin: str | None = None, timeout: float = RUN_TIMEOUT
) -> None:
    """Run one command; on failure raise with the tail of its output (which is also kept in ``log``)."""
    with log.open("ab") as out:
        out.write(f"$ {' '.join(redacted(argv))}\n".encode())
        out.flush()
        try:
            result = subprocess.run(
                argv,
                check=False,
                env=env,
                input=stdin.encode() if stdin else None,
                stdout=out,
                stderr=out,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise BenchError(f"{argv[0]} {argv[1]}: no answer within {timeout:.0f} s (log: {log})") from None
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-1500:]
        raise BenchError(f"{' '.join(argv[:3])} ... exited {result.returncode} (log: {log}):\n{tail}")


class Tool:
    """One client: set up once, then per certificate an untimed prepare, the timed issue, an untimed check."""

    name: str

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.log = ctx.work / f"{self.name}.log"

    def domain(self, index: int) -> str:
        return f"bench-{self.name}-{index}.{ZONE}"

    def version(self) -> str:
        raise NotImplementedError

    def setup(self) -> None:
        """Register the account (where the tool does that separately)."""

    def prepare(self, index: int) -> None:
        """Untimed work before one issuance."""

    def issue(self, index: int) -> None:
        run(self.issue_argv(index), self.env, self.log)

    def issue_argv(self, index: int) -> list[str]:
        """The command line of one issuance, for the tools that are a command (all but in-process)."""
        raise NotImplementedError

    @property
    def env(self) -> dict[str, str]:
        """The environment the tool's commands run with."""
        raise NotImplementedError

    def certificate_pem(self, index: int) -> bytes:
        """The issued certificate, read back from where the tool put it."""
        raise NotImplementedError

    def describe(self) -> str:
        """How one timed issuance is done, for the results file."""
        raise NotImplementedError


class _Acmevault(Tool):
    def cert_name(self, index: int) -> str:
        return f"bench-{self.name}-{index}"

    def version(self) -> str:
        """acmevault's AWS client is its own (adapters/aws/wire): botocore gives it its exceptions and,
        only where the environment has no credentials, its credential chain; never a client."""
        acmevault, acme, botocore = (metadata.version(p) for p in ("acmevault", "acme", "botocore"))
        env_credentials = bool(self.env.get("AWS_ACCESS_KEY_ID") and self.env.get("AWS_SECRET_ACCESS_KEY"))
        used_for = "exceptions" if env_credentials else "exceptions and credential chain"
        return f"acmevault {acmevault} (acme {acme}; its own AWS client, botocore {botocore} for its {used_for} only)"

    def setup(self) -> None:
        """Vault the directory once (both acmevault variants share it), as a user would: HMAC on stdin."""
        marker = self.ctx.work / "acmevault-directory"
        if marker.exists():
            return
        argv = [self.cli, "directory", "put", DIRECTORY, "--url", self.ctx.directory_url]
        run([*argv, "--eab-kid", EAB_KID["acmevault"]], self.env, self.log, stdin=self.ctx.hmac("acmevault") + "\n")
        marker.touch()

    @property
    def cli(self) -> str:
        return str(PROJECT_VENV / "bin" / "acmevault")

    @property
    def env(self) -> dict[str, str]:
        return {**self.ctx.base_env, **self.ctx.stack_env}

    def certificate_pem(self, index: int) -> bytes:
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.ctx.stack_env["AWS_ENDPOINT_URL"])
        key = f"certificates/{self.cert_name(index)}/cert.pem"
        return bytes(s3.get_object(Bucket=self.ctx.stack_env["ACMEVAULT_BUCKET"], Key=key)["Body"].read())


class AcmevaultCli(_Acmevault):
    name = "acmevault"

    def prepare(self, index: int) -> None:
        name, domain = self.cert_name(index), self.domain(index)
        argv = [self.cli, "cert", "put", name, "-d", domain, "--directory", DIRECTORY, "--key-type", "ec-p256"]
        run(argv, self.env, self.log)

    def issue_argv(self, index: int) -> list[str]:
        return [self.cli, "cert", "issue", self.cert_name(index)]

    def describe(self) -> str:
        return "acmevault cert issue NAME (a new process; `cert put` beforehand, untimed)"


class AcmevaultInProcess(_Acmevault):
    name = "acmevault-inprocess"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._services: Any = None

    @property
    def services(self) -> Any:
        if self._services is None:
            # os.environ already carries the stack's variables (see main): the AWS client reads AWS_ENDPOINT_URL.
            from acmevault.composition.config import Settings
            from acmevault.composition.services import build

            self._services = build(Settings.from_env(os.environ))
        return self._services

    def prepare(self, index: int) -> None:
        from acmevault.app.definition import define_certificate
        from acmevault.domain.certificate import CertificateSpec

        spec = CertificateSpec.parse(
            self.cert_name(index), {"domains": [self.domain(index)], "directory": DIRECTORY, "key_type": "ec-p256"}
        )
        define_certificate(spec, self.services)

    def issue(self, index: int) -> None:
        from acmevault.app.issuance import issue_certificate

        issue_certificate(self.cert_name(index), self.services, time.monotonic() + RUN_TIMEOUT)

    def describe(self) -> str:
        return "issue_certificate(NAME, services, deadline) in one process, services built once"


class Certbot(Tool):
    name = "certbot"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.certbot = str(ensure_certbot())
        self.home = ctx.work / "certbot"

    @property
    def env(self) -> dict[str, str]:
        return {**self.ctx.base_env, "REQUESTS_CA_BUNDLE": str(self.ctx.stack.ca_bundle)}

    def common(self) -> list[str]:
        dirs = [f"--{d}-dir={self.home / d}" for d in ("config", "work", "logs")]
        return ["--server", self.ctx.directory_url, "--non-interactive", *dirs]

    def version(self) -> str:
        return command_output([self.certbot, "--version"])

    def setup(self) -> None:
        # "--flag=value": a base64url key may start with "-", which a parser would take for an option
        eab = ["--eab-kid", EAB_KID["certbot"], f"--eab-hmac-key={self.ctx.hmac('certbot')}"]
        run(
            [self.certbot, "register", *self.common(), *eab, "--agree-tos", "-m", EMAIL, "--no-eff-email"],
            self.env,
            self.log,
        )

    def issue_argv(self, index: int) -> list[str]:
        return [
            self.certbot,
            "certonly",
            *self.common(),
            *("--manual", "--preferred-challenges", "dns"),
            *("--manual-auth-hook", "/bin/true", "--manual-cleanup-hook", "/bin/true"),
            *("--key-type", "ecdsa", "--elliptic-curve", "secp256r1"),
            *("--cert-name", self.domain(index), "-d", self.domain(index)),
        ]

    def certificate_pem(self, index: int) -> bytes:
        return (self.home / "config" / "live" / self.domain(index) / "cert.pem").read_bytes()

    def describe(self) -> str:
        return "certbot certonly --manual --preferred-challenges dns (hooks /bin/true), account registered beforehand"


class Lego(Tool):
    name = "lego"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.lego = require_binary("lego")
        self.home = ctx.work / "lego"
        from acmevault_cli.local.stack import free_port

        self.http_port = free_port()  # lego serves http-01 here; Pebble (always valid) never asks

    @property
    def env(self) -> dict[str, str]:
        return {**self.ctx.base_env, "LEGO_CA_CERTIFICATES": str(self.ctx.stack.ca_bundle)}

    def version(self) -> str:
        # Debian's build reports "dev"; the package version is the real one.
        return f"lego {debian_version('lego')} (Debian package)"

    def issue_argv(self, index: int) -> list[str]:
        return [
            self.lego,
            *("--server", self.ctx.directory_url, "--eab", "--kid", EAB_KID["lego"], f"--hmac={self.ctx.hmac('lego')}"),
            *("--email", EMAIL, "--accept-tos", "--path", str(self.home), "--key-type", "ec256"),
            *("--http", "--http.port", f"127.0.0.1:{self.http_port}", "--domains", self.domain(index), "run"),
        ]

    def certificate_pem(self, index: int) -> bytes:
        return (self.home / "certificates" / f"{self.domain(index)}.crt").read_bytes()

    def describe(self) -> str:
        return "lego run --http (account registered by the warm-up run)"


TOOL_CLASSES: dict[str, Callable[[Context], Tool]] = {
    "acmevault": AcmevaultCli,
    "acmevault-inprocess": AcmevaultInProcess,
    "certbot": Certbot,
    "lego": Lego,
}


def check_certificate(pem: bytes, domain: str) -> str:
    """The certificate names exactly ``domain`` and has an EC P-256 key; return its serial."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

    cert = x509.load_pem_x509_certificate(pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    if names != [domain]:
        raise BenchError(f"{domain}: the certificate names {names}")
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise BenchError(f"{domain}: the certificate key is not EC P-256")
    return f"{cert.serial_number:x}"


# -- measuring -------------------------------------------------------------------------------------


def measure(tool: Tool, runs: int) -> dict[str, Any]:
    progress(f"[{tool.name}] setting up ...")
    tool.setup()
    seconds: list[float] = []
    warmup = 0.0
    for index in range(runs + 1):  # index 0 is the warm-up
        tool.prepare(index)
        started = time.perf_counter()
        tool.issue(index)
        elapsed = time.perf_counter() - started
        serial = check_certificate(tool.certificate_pem(index), tool.domain(index))
        label = "warm-up" if index == 0 else f"{index}/{runs}"
        progress(f"[{tool.name} {label}] {tool.domain(index)}: {elapsed:.3f} s (serial {serial})")
        if index == 0:
            warmup = elapsed
        else:
            seconds.append(elapsed)
    return {
        "version": tool.version(),
        "timed": tool.describe(),
        "warmup_seconds": warmup,
        "seconds": seconds,
        **summarize(seconds),
    }


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(seconds: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
        "p90": percentile(seconds, 0.9),
    }


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def markdown(results: dict[str, Any]) -> str:
    host = results["machine"]
    lines = [
        (
            f"Issuance wall time per certificate, {results['runs']} certificates per tool "
            f"(Pebble {results['pebble']}, always-valid challenges, on 127.0.0.1)."
        ),
        f"Machine: {host['nproc']} CPUs ({host['cpu']}), Python {host['python']}, {host['platform']}.",
        "",
        "| tool | version | median (s) | min (s) | p90 (s) | max (s) | warm-up (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, tool in results["tools"].items():
        figures = " | ".join(f"{tool[k]:.3f}" for k in ("median", "min", "p90", "max", "warmup_seconds"))
        lines.append(f"| {name} | {tool['version']} | {figures} |")
    lines += [
        "",
        (
            "Each figure is one issuance, timed from start to certificate in hand: new key, order, challenge, "
            "finalize, download, store. acmevault stores in S3, ACM and DynamoDB (moto) and proves dns-01 in "
            "Route 53 (moto); certbot and lego write files. Warm-up: the untimed first issuance (lego registers "
            "its account in it)."
        ),
    ]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="timed certificates per tool (default %(default)s)")
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help="comma-separated, from: %(default)s (default: all, in that order)"
    )
    args = parser.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in args.tools if t not in TOOLS]
    if unknown or not args.tools:
        parser.error(f"--tools: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(TOOLS)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


@contextmanager
def local_stack() -> Iterator[Context]:
    """This run's own Pebble and moto on free ports, in a temporary directory that is removed at the end
    (kept, and said where, when the block raises); os.environ carries the stack's variables inside."""
    from acmevault_cli.local.stack import LocalStack, free_port

    require_binary("pebble")
    work = Path(tempfile.mkdtemp(prefix="acmevault-bench-"))
    ports: set[int] = set()
    while len(ports) < 3:  # the kernel may hand the same free port out twice
        ports.add(free_port())
    pebble_port, management_port, moto_port = sorted(ports)
    stack = LocalStack(
        work / "stack",
        pebble_port=pebble_port,
        management_port=management_port,
        moto_port=moto_port,
        name="acmevault-bench",
        pebble_env=PEBBLE_ENV,
    )
    base_env = dict(os.environ)
    failed = True
    try:
        progress(f"starting Pebble and moto on free ports (state in {stack.state_dir}) ...")
        stack_env = stack.up()
        os.environ.update(stack_env)  # before any acmevault adapter builds an AWS client
        yield Context(stack=stack, stack_env=stack_env, base_env=base_env, work=work)
        failed = False
    finally:
        stack.down()
        if failed:
            progress(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    if "lego" in args.tools:
        require_binary("lego")
    if "certbot" in args.tools:
        ensure_certbot()
    started = datetime.now(UTC)
    with local_stack() as ctx:
        tools = {name: measure(TOOL_CLASSES[name](ctx), args.runs) for name in args.tools}
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "runs": args.runs,
        "machine": machine(),
        "pebble": debian_version("pebble"),
        "pebble_env": {"PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_VA_NOSLEEP": "1", **PEBBLE_ENV},
        "unit": "seconds of wall time per certificate",
        "tools": tools,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sweep"]:
        from sweep import main as sweep_main  # bench/sweep.py, next to this file

        return sweep_main(argv[1:])
    return run_and_report(benchmark, parse_args(argv), RESULTS, markdown)


def run_and_report(
    bench: Callable[[Any], dict[str, Any]], args: Any, results: Path, render: Callable[[dict[str, Any]], str]
) -> int:
    """What every benchmark script's main does: run it, save the raw numbers, print the table.

    A plain `kill` stops the stack too: SystemExit unwinds through the benchmark's finally.
    """
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        ensure_project_python()
        from acmevault.domain.errors import AcmeVaultError

        try:
            figures = bench(args)
        except AcmeVaultError as error:  # from the stack or the in-process use case
            raise BenchError(error.message) from None
    except BenchError as error:
        progress(f"bench: {error}")
        return 1
    except KeyboardInterrupt:
        progress("bench: interrupted")
        return 130
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(figures, indent=2) + "\n")
    print(render(figures))
    progress(f"raw numbers: {results.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
