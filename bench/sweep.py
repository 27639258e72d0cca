#!/usr/bin/env python3
"""Renewal sweep benchmark: N due certificates renewed by acmevault, certbot and lego on one local Pebble.

    python bench/run.py sweep [--count 100] [--workers 8,16] [--cli-workers 16]
                              [--tools acmevault-inprocess,acmevault-cli,certbot,lego]
    (or: python bench/sweep.py ..., or: make bench BENCH_ARGS="sweep --count 10")

It starts its own local stack as bench/run.py does (Pebble with EAB required, always-valid challenges,
no nonce rejection, and moto) on free ports. Each tool first gets --count certificates, untimed, then
renews all of them at once, timed by wall clock around exactly the renewal:

  acmevault-inprocess  renew_due(services, now, timeout=60, workers=W) in this process, once per W in
                       --workers, after every record was made due (renew_at in the past, retry_at cleared)
  acmevault-cli        `acmevault renew --due --workers W`, a whole process, the records made due the same way
  certbot              `certbot renew --force-renewal` over the N lineages made by `certbot certonly`: one process
  lego                 `lego renew --days 10000` once per certificate, one after the other in a shell loop

After each timed renewal every certificate is read back from where the tool serves it (for acmevault the
record, S3 and ACM) and must carry a new serial, the right name and an EC P-256 key. The Markdown table goes
to stdout, progress to stderr, and every figure to bench/results/sweep.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import run as bench  # bench/run.py: the stack, the tools' set-up and the checks are shared
from run import BenchError, Context, check_certificate, progress

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.json"
TOOLS = ("acmevault-inprocess", "acmevault-cli", "certbot", "lego")
SWEEP_TIMEOUT = 60.0  # seconds per certificate given to renew_due / acmevault renew --timeout
CREATE_WORKERS = 16  # workers for acmevault's untimed first issuance of the N certificates


def process_timeout(count: int) -> float:
    """How long one whole-run process (certbot renew, the lego loop, acmevault renew) may take."""
    return 120.0 + 30.0 * count


# -- where the CPU time goes -----------------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    """user + system CPU seconds of a running process (Linux /proc), 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    client: float  # this process and the children it has waited for (the tools run as children)
    pebble: float
    moto: float

    @classmethod
    def take(cls, ctx: Context) -> CpuSample:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        pid = {s: int((ctx.stack.state_dir / f"{s}.pid").read_text()) for s in ("pebble", "moto")}
        return cls(
            client=own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
            pebble=_proc_cpu(pid["pebble"]),
            moto=_proc_cpu(pid["moto"]),
        )

    def since(self, before: CpuSample) -> dict[str, float]:
        return {
            "client": self.client - before.client,
            "pebble": self.pebble - before.pebble,
            "moto": self.moto - before.moto,
        }


def timed(ctx: Context, action: Callable[[], Any]) -> tuple[float, dict[str, float], Any]:
    """Wall seconds and CPU seconds (client, Pebble, moto) of ``action()``, and what it returned."""
    before = CpuSample.take(ctx)
    started = time.perf_counter()
    value = action()
    elapsed = time.perf_counter() - started
    return elapsed, CpuSample.take(ctx).since(before), value


# -- the tools -------------------------------------------------------------------------------------


def renewed(tool: str, before: dict[str, str], after: dict[str, str]) -> int:
    """Every certificate was renewed: the same names, and a new serial for each one; how many."""
    if before.keys() != after.keys():
        raise BenchError(f"{tool}: certificates before and after differ: {sorted(before.keys() ^ after.keys())}")
    stale = sorted(name for name in before if before[name] == after[name])
    if stale:
        raise BenchError(f"{tool}: {len(stale)} of {len(before)} not renewed (same serial), e.g. {stale[:3]}")
    return len(after)


class AcmevaultSweep(bench.AcmevaultInProcess):
    """acmevault's N certificates, shared by the in-process sweeps and the CLI sweep (each renews all N)."""

    name = "acmevault"

    def __init__(self, ctx: Context, count: int) -> None:
        super().__init__(ctx)
        self.count = count
        self.names = [self.cert_name(i) for i in range(count)]

    def fresh_services(self) -> Any:
        """Services as a new container builds them: no ACME session, no cached directory credential yet.
        (AWS clients are cached per process by acmevault itself, so those stay warm, as in Lambda.)"""
        from acmevault.composition.config import Settings
        from acmevault.composition.services import build

        return build(Settings.from_env(os.environ))

    def create(self) -> float:
        """Directory vaulted, N specs put, N certificates issued by one untimed sweep; its seconds."""
        from acmevault.app.renewal import renew_due

        self.setup()
        for index in range(self.count):
            self.prepare(index)
        started = time.perf_counter()
        outcomes = renew_due(self.services, datetime.now(UTC), SWEEP_TIMEOUT, workers=CREATE_WORKERS)
        if outcomes != {"issued": self.count}:
            raise BenchError(f"acmevault: the first issuance of {self.count} certificates ended {dict(outcomes)}")
        return time.perf_counter() - started

    def make_due(self) -> None:
        """Every record's renewal time moved into the past, as the brief of the benchmark says."""
        now = datetime.now(UTC)
        table = self.services.certificates
        for name in self.names:
            state = table.get(name).state
            table.save_state(name, replace(state, renew_at=now - timedelta(days=1), retry_at=None))
        due = sorted(table.due(datetime.now(UTC)))
        if due != sorted(self.names):
            raise BenchError(f"acmevault: {len(due)} certificates due after making {self.count} due")

    def record_serials(self) -> dict[str, str]:
        table = self.services.certificates
        return {name: str(table.get(name).state.serial) for name in self.names}

    def served_serials(self) -> dict[str, str]:
        """The serial each certificate has in its record, in S3 and in ACM, which must all agree."""
        import boto3

        acm = boto3.client("acm", endpoint_url=self.ctx.stack_env["AWS_ENDPOINT_URL"])
        table = self.services.certificates
        serials = {}
        for index, name in enumerate(self.names):
            state = table.get(name).state
            s3 = check_certificate(self.certificate_pem(index), self.domain(index))
            arns = list(state.acm_arns.values())
            in_acm = {
                check_certificate(acm.get_certificate(CertificateArn=arn)["Certificate"].encode(), self.domain(index))
                for arn in arns
            }
            if not arns or in_acm != {s3} or state.serial != s3:
                raise BenchError(f"acmevault: {name}: record {state.serial}, S3 {s3}, ACM {sorted(in_acm)} differ")
            serials[name] = s3
        return serials

    def sweep_inprocess(self, workers: int) -> dict[str, Any]:
        from acmevault.app.renewal import renew_due

        services = self.fresh_services()
        elapsed, cpu, outcomes = timed(
            self.ctx, lambda: renew_due(services, datetime.now(UTC), SWEEP_TIMEOUT, workers=workers)
        )
        return {"seconds": elapsed, "cpu_seconds": cpu, "outcomes": dict(outcomes)}

    def sweep_cli(self, workers: int) -> dict[str, Any]:
        argv = [self.cli, "renew", "--due", "--workers", str(workers), "--timeout", str(SWEEP_TIMEOUT)]
        elapsed, cpu, _ = timed(
            self.ctx, lambda: bench.run(argv, self.env, self.log, timeout=process_timeout(self.count))
        )
        # stdout, written last: "N certificates looked at: N issued" (the exit status only says none failed)
        summary = self.log.read_text(errors="replace").strip().splitlines()[-1]
        if summary != f"{self.count} certificates looked at: {self.count} issued":
            raise BenchError(f"acmevault renew --due ended with {summary!r}, not {self.count} issued (log: {self.log})")
        return {"seconds": elapsed, "cpu_seconds": cpu, "output": summary}

    def renew(self, variant: str, workers: int) -> dict[str, Any]:
        self.make_due()
        before = self.record_serials()
        progress(f"[{variant}] renewing {self.count} due certificates with {workers} workers (timed) ...")
        figures = self.sweep_inprocess(workers) if variant == "acmevault-inprocess" else self.sweep_cli(workers)
        if figures.get("outcomes", {"issued": self.count}) != {"issued": self.count}:
            raise BenchError(f"{variant}: the sweep ended {figures['outcomes']}, not {self.count} issued")
        figures["renewed"] = renewed(variant, before, self.served_serials())
        return figures


class CertbotSweep(bench.Certbot):
    def create(self, count: int) -> float:
        self.setup()
        started = time.perf_counter()
        for index in range(count):
            self.issue(index)
            if (index + 1) % 10 == 0 or index + 1 == count:
                progress(f"[certbot] {index + 1}/{count} lineages created")
        return time.perf_counter() - started

    def serials(self, count: int) -> dict[str, str]:
        return {self.domain(i): check_certificate(self.certificate_pem(i), self.domain(i)) for i in range(count)}

    def renew(self, count: int) -> dict[str, Any]:
        before = self.serials(count)
        dirs = [f"--{d}-dir={self.home / d}" for d in ("config", "work", "logs")]
        # Without --no-random-sleep-on-renew certbot sleeps up to 8 minutes first when stdin is no terminal.
        argv = [self.certbot, "renew", "--non-interactive", *dirs, "--force-renewal", "--no-random-sleep-on-renew"]
        progress(f"[certbot] certbot renew --force-renewal over {count} lineages (timed) ...")
        elapsed, cpu, _ = timed(self.ctx, lambda: bench.run(argv, self.env, self.log, timeout=process_timeout(count)))
        return {"seconds": elapsed, "cpu_seconds": cpu, "renewed": renewed("certbot", before, self.serials(count))}

    def describe(self) -> str:
        return "certbot renew --force-renewal --no-random-sleep-on-renew: one process, lineages one after another"


class LegoSweep(bench.Lego):
    def create(self, count: int) -> float:
        started = time.perf_counter()
        for index in range(count):
            self.issue(index)
            if (index + 1) % 10 == 0 or index + 1 == count:
                progress(f"[lego] {index + 1}/{count} certificates created")
        return time.perf_counter() - started

    def serials(self, count: int) -> dict[str, str]:
        return {self.domain(i): check_certificate(self.certificate_pem(i), self.domain(i)) for i in range(count)}

    def loop_script(self) -> Path:
        """The shell loop people run: lego renews one certificate per invocation.

        lego wants the EAB flags on every run once the CA requires EAB; the script takes the HMAC from
        the environment ($EAB_HMAC), so neither the script nor the log holds it."""
        lego = [
            self.lego,
            *("--server", self.ctx.directory_url, "--eab", "--kid", bench.EAB_KID["lego"]),
            *("--email", bench.EMAIL, "--accept-tos"),
            *("--path", str(self.home), "--key-type", "ec256"),
            *("--http", "--http.port", f"127.0.0.1:{self.http_port}"),
        ]
        script = self.ctx.work / "lego-renew-all.sh"
        script.write_text(
            "#!/bin/sh\n"
            "# lego renews one certificate per run: one run per domain, one after another.\n"
            "set -e\n"
            'for domain in "$@"; do\n'
            f'  {shlex.join(lego)} --hmac="$EAB_HMAC" --domains "$domain" renew --days 10000 --no-random-sleep\n'
            "done\n"
        )
        return script

    def renew(self, count: int) -> dict[str, Any]:
        before = self.serials(count)
        argv = ["sh", str(self.loop_script()), *(self.domain(i) for i in range(count))]
        progress(f"[lego] lego renew --days 10000, {count} runs in a shell loop (timed) ...")
        env = {**self.env, "EAB_HMAC": self.ctx.hmac("lego")}
        elapsed, cpu, _ = timed(self.ctx, lambda: bench.run(argv, env, self.log, timeout=process_timeout(count)))
        return {"seconds": elapsed, "cpu_seconds": cpu, "renewed": renewed("lego", before, self.serials(count))}

    def describe(self) -> str:
        return "lego renew --days 10000 --no-random-sleep, once per certificate, in a sh for-loop"


# -- measuring -------------------------------------------------------------------------------------


def row(tool: str, how: str, version: str, count: int, figures: dict[str, Any], **extra: Any) -> dict[str, Any]:
    seconds = float(figures["seconds"])
    progress(f"[{tool}] {how}: {count} renewed in {seconds:.2f} s ({count / seconds:.1f} certificates/s)")
    return {
        "tool": tool,
        "how": how,
        "version": version,
        "certificates": count,
        "seconds": seconds,
        "seconds_per_certificate": seconds / count,
        "certificates_per_second": count / seconds,
        **{k: v for k, v in figures.items() if k != "seconds"},
        **extra,
    }


def measure_acmevault(ctx: Context, args: argparse.Namespace) -> list[dict[str, Any]]:
    tool = AcmevaultSweep(ctx, args.count)
    progress(f"[acmevault] vaulting the directory, issuing {args.count} certificates (untimed) ...")
    created = tool.create()
    progress(f"[acmevault] {args.count} certificates issued in {created:.2f} s (untimed)")
    rows = []
    if "acmevault-inprocess" in args.tools:
        for workers in args.workers:
            figures = tool.renew("acmevault-inprocess", workers)
            how = f"renew_due(workers={workers}), in process"
            timed = f"renew_due(services, now, timeout={SWEEP_TIMEOUT:.0f}, workers={workers}), services built untimed"
            rows.append(row("acmevault", how, tool.version(), args.count, figures, workers=workers, timed=timed))
    if "acmevault-cli" in args.tools:
        figures = tool.renew("acmevault-cli", args.cli_workers)
        how = f"`acmevault renew --due --workers {args.cli_workers}`, a whole process"
        timed = f"acmevault renew --due --workers {args.cli_workers} --timeout {SWEEP_TIMEOUT:.0f}: a new process"
        rows.append(row("acmevault", how, tool.version(), args.count, figures, workers=args.cli_workers, timed=timed))
    for entry in rows:
        entry["untimed_creation_seconds"] = created
    return rows


def measure_other(ctx: Context, name: str, count: int) -> dict[str, Any]:
    tool: CertbotSweep | LegoSweep = CertbotSweep(ctx) if name == "certbot" else LegoSweep(ctx)
    progress(f"[{name}] creating {count} certificates, one run each (untimed) ...")
    created = tool.create(count)
    figures = tool.renew(count)
    how = "`certbot renew --force-renewal`, one process" if name == "certbot" else "`lego renew`, shell loop"
    return row(name, how, tool.version(), count, figures, timed=tool.describe(), untimed_creation_seconds=created)


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    if "lego" in args.tools:
        bench.require_binary("lego")
    if "certbot" in args.tools:
        bench.ensure_certbot()
    started = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    with bench.local_stack() as ctx:
        if any(t.startswith("acmevault") for t in args.tools):
            rows += measure_acmevault(ctx, args)
        rows += [measure_other(ctx, name, args.count) for name in ("certbot", "lego") if name in args.tools]
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "certificates": args.count,
        "machine": bench.machine(),
        "pebble": bench.debian_version("pebble"),
        "pebble_env": {"PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_VA_NOSLEEP": "1", **bench.PEBBLE_ENV},
        "unit": "seconds of wall time to renew all the certificates; CPU seconds over the same interval",
        "rows": rows,
    }


def markdown(results: dict[str, Any]) -> str:
    host, count = results["machine"], results["certificates"]
    lines = [
        (
            f"Renewing {count} due certificates, wall time for all of them "
            f"(Pebble {results['pebble']}, always-valid challenges, on 127.0.0.1)."
        ),
        f"Machine: {host['nproc']} CPUs ({host['cpu']}), Python {host['python']}, {host['platform']}.",
        "",
        "| tool | how | total (s) | per certificate (s) | certificates/s | CPU: client (s) | Pebble (s) | moto (s) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for entry in results["rows"]:
        cpu = " | ".join(f"{entry['cpu_seconds'][part]:.1f}" for part in ("client", "pebble", "moto"))
        lines.append(
            f"| {entry['tool']} | {entry['how']} | {entry['seconds']:.2f} | {entry['seconds_per_certificate']:.3f} "
            f"| {entry['certificates_per_second']:.1f} | {cpu} |"
        )
    versions = sorted({f"{entry['tool']}: {entry['version']}" for entry in results["rows"]})
    lines += [
        "",
        (
            f"Every row renews the same kind of certificate (one name, EC P-256), all {count} of them due, and was "
            "checked afterwards: a new serial for each (acmevault: the record, S3 and ACM agree). acmevault also "
            "proves dns-01 in Route 53 where the order needs it and stores in ACM, S3 and DynamoDB (all moto); certbot "
            "and lego write files. Pebble reuses a valid authorization for about half of the orders, for each tool. "
            "CPU: seconds used during the timed interval by the client (with its child processes), Pebble and moto."
        ),
        "Versions: " + "; ".join(versions) + ".",
    ]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py sweep", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=positive_int, default=100, help="due certificates per tool (%(default)s)")
    parser.add_argument("--workers", default="8,16", help="worker counts for the in-process sweep (%(default)s)")
    parser.add_argument("--cli-workers", type=positive_int, default=16, help="for acmevault renew (%(default)s)")
    parser.add_argument(
        "--tools", default=",".join(TOOLS), help="comma-separated, from: %(default)s (default: all, in that order)"
    )
    args = parser.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in args.tools if t not in TOOLS]
    if unknown or not args.tools:
        parser.error(f"--tools: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(TOOLS)}")
    try:
        args.workers = [positive_int(w) for w in args.workers.split(",") if w.strip()]
    except (ValueError, argparse.ArgumentTypeError):
        parser.error(f"--workers: comma-separated whole numbers of at least 1, not {args.workers!r}")
    if not args.workers:
        parser.error("--workers: give at least one")
    return args


def main(argv: list[str] | None = None) -> int:
    return bench.run_and_report(benchmark, parse_args(sys.argv[1:] if argv is None else argv), RESULTS, markdown)


if __name__ == "__main__":
    sys.exit(main())
