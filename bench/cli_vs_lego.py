#!/usr/bin/env python3
"""The acmevault CLI against lego, whole processes, interleaved: `acmevault cert issue` vs `lego run`.

    python bench/cli_vs_lego.py [--pairs 9] [--command-runs 9] [--certbot] [--baseline OTHER/.venv/bin/acmevault]
                                [--instructions]

One local stack on free ports (Pebble with EAB required, always-valid challenges, no sleeps; moto
behind acmevault's strict-ACM proxy), as bench/run.py starts it, whose tools and checks this reuses.
After one untimed warm-up pair, --pairs pairs A B A B ...: A is `acmevault cert issue NAME` (the spec
put beforehand, untimed; dns-01 in Route 53, the certificate into ACM and S3, state into DynamoDB,
all on moto), B is `lego run --http` (the account registered by the warm-up). Each certificate is one
name, EC P-256, for a fresh name, read back and checked after its timing.

Then the read-only commands: `acmevault --help`, `acmevault cert list` (the certificates issued
above) and `acmevault directory show NAME`, --command-runs times each after a warm-up, interleaved.

Every timed process is started by a small helper process of its own (`python -I -S`, a few MB) that
times it (wall clock from spawn to exit) and reads its rusage from wait4(): CPU time (user + system)
and peak RSS (ru_maxrss). The helper is there because Linux carries ru_maxrss over fork and exec: a
child spawned by this process, which holds boto3 and cryptography, would start at this process's RSS.
The helper's own RSS is the floor of what it can measure; it is printed (`/bin/true`'s peak RSS).

--certbot adds `certbot certonly --manual` (as bench/run.py runs it) to every round, A B C A B C.
--baseline PATH times another acmevault command (an older checkout's venv) in the same rounds, A C B
A C B ...: two versions compared under the same load. --instructions also runs each acmevault command
once under valgrind (callgrind) and counts its instructions, which other load on a shared machine does
not move the way it moves time.

Markdown to stdout (medians, the ratio of the acmevault and lego wall-time medians, and the median of
the per-pair ratios), progress to stderr, every figure to bench/results/cli_vs_lego.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import signal
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import run as bench  # bench/run.py, next to this file: the stack, the tools and the checks
from run import BenchError, Context, progress

RESULTS = Path(__file__).resolve().parent / "results" / "cli_vs_lego.json"
TIMEOUT = 120.0  # seconds for one timed process
# lego sleeps 500 ms after finalizing when Pebble's answer still says "processing"; when the order is already
# valid it does not, and finishes in about 0.1 s. Which one happens depends on Pebble's scheduling.
LEGO_WAIT_SECONDS = 0.5
TARGETS = {"ratio": 1.0, "issue_cpu_seconds": 0.25, "issue_peak_rss_mb": 60.0, "command_wall_seconds": 0.150}

# The helper: one JSON job per line on stdin (argv, env, log file), one line back with the child's pid
# when it is started and one with its figures when it has exited. posix_spawn and wait4 only: the
# helper stays small, so the child it spawns starts from the helper's few MB, not from this process.
SPAWNER = r"""
import json, os, sys, time
for line in sys.stdin:
    job = json.loads(line)
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(job["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)]
    started = time.perf_counter()
    pid = os.posix_spawn(job["argv"][0], job["argv"], job["env"], file_actions=actions)
    print(json.dumps({"pid": pid}), flush=True)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    os.close(null)
    os.close(log)
    print(json.dumps({
        "wall": wall, "user": usage.ru_utime, "system": usage.ru_stime, "maxrss_kb": usage.ru_maxrss,
        "exit": os.waitstatus_to_exitcode(status),
    }), flush=True)
"""


class Spawner:
    """The helper process that starts and measures every timed process."""

    def __init__(self) -> None:
        # Started from a clean environment: nothing of this process's is needed for it to run.
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", SPAWNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={"PATH": "/usr/bin:/bin"},
            text=True,
        )

    def measure(self, argv: list[str], env: dict[str, str], log: Path) -> dict[str, float]:
        """Run ``argv`` to its end; its wall time, CPU seconds and peak RSS (MB). Raise if it fails."""
        assert self.process.stdin is not None and self.process.stdout is not None
        with log.open("ab") as out:
            out.write(f"$ {' '.join(bench.redacted(argv))}\n".encode())
        self.process.stdin.write(json.dumps({"argv": argv, "env": env, "log": str(log)}) + "\n")
        self.process.stdin.flush()
        pid = json.loads(self._line(10.0))["pid"]
        try:
            done = json.loads(self._line(TIMEOUT))
        except BenchError:
            os.kill(pid, signal.SIGKILL)
            raise BenchError(f"{argv[0]} {argv[1]}: no answer within {TIMEOUT:.0f} s (log: {log})") from None
        if done["exit"] != 0:
            tail = log.read_text(errors="replace")[-1500:]
            raise BenchError(f"{' '.join(argv[:4])} ... exited {done['exit']} (log: {log}):\n{tail}")
        return {
            "wall": done["wall"],
            "cpu": done["user"] + done["system"],
            "user": done["user"],
            "system": done["system"],
            "peak_rss_mb": done["maxrss_kb"] / 1024,
        }

    def _line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise BenchError("the measuring helper did not answer")
        return line

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


class BaselineCli(bench.AcmevaultCli):
    """Another acmevault command (--baseline: an older checkout's venv), interleaved with this one."""

    name = "acmevault-baseline"

    def __init__(self, ctx: Context, path: str) -> None:
        super().__init__(ctx)
        self.path = path

    @property
    def cli(self) -> str:
        return self.path

    def version(self) -> str:
        return f"acmevault at {self.path}"


# -- statistics ------------------------------------------------------------------------------------


def summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    figures: dict[str, Any] = {"runs": samples}
    for key in ("wall", "cpu", "peak_rss_mb"):
        values = [s[key] for s in samples]
        figures[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    return figures


# -- the two parts ---------------------------------------------------------------------------------


def issue_pairs(ctx: Context, spawner: Spawner, args: argparse.Namespace) -> dict[str, Any]:
    pairs = args.pairs
    tools: list[bench.Tool] = [
        bench.AcmevaultCli(ctx),
        *([BaselineCli(ctx, args.baseline)] if args.baseline else []),
        *([bench.Certbot(ctx)] if args.certbot else []),
        bench.Lego(ctx),
    ]
    for tool in tools:
        progress(f"[{tool.name}] setting up ...")
        tool.setup()
    samples: dict[str, list[dict[str, float]]] = {t.name: [] for t in tools}
    warmup: dict[str, dict[str, float]] = {}
    for index in range(pairs + 1):  # index 0: the warm-up pair
        for tool in tools:
            tool.prepare(index)
            figures = spawner.measure(tool.issue_argv(index), tool.env, tool.log)
            serial = bench.check_certificate(tool.certificate_pem(index), tool.domain(index))
            label = "warm-up" if index == 0 else f"{index}/{pairs}"
            progress(
                f"[{tool.name} {label}] {figures['wall']:.3f} s wall, {figures['cpu']:.3f} s CPU, "
                f"{figures['peak_rss_mb']:.0f} MB (serial {serial})"
            )
            if index == 0:
                warmup[tool.name] = figures
            else:
                samples[tool.name].append(figures)
    acmevault, lego = samples[tools[0].name], samples[tools[-1].name]
    return {
        "tools": {
            t.name: {
                "version": t.version(),
                "timed": t.describe(),
                "warmup": warmup[t.name],
                **summary(samples[t.name]),
            }
            for t in tools
        },
        "ratio_of_medians": statistics.median(s["wall"] for s in acmevault)
        / statistics.median(s["wall"] for s in lego),
        "median_pair_ratio": statistics.median(a["wall"] / b["wall"] for a, b in zip(acmevault, lego, strict=True)),
        "lego_without_its_wait": sum(1 for s in lego if s["wall"] < LEGO_WAIT_SECONDS),
    }


def commands(ctx: Context, spawner: Spawner, runs: int, baseline: str | None) -> dict[str, Any]:
    cli = bench.AcmevaultCli(ctx)
    argvs = {}
    for label, path in (("acmevault", cli.cli), *((("baseline", baseline),) if baseline else ())):
        argvs |= {
            f"{label} --help": [path, "--help"],
            f"{label} cert list": [path, "cert", "list"],
            f"{label} directory show {bench.DIRECTORY}": [path, "directory", "show", bench.DIRECTORY],
        }
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in argvs}
    for index in range(runs + 1):  # index 0: a warm-up of each
        for name, argv in argvs.items():
            figures = spawner.measure(argv, cli.env, ctx.work / "commands.log")
            if index:
                samples[name].append(figures)
        if index:
            progress(
                f"[commands {index}/{runs}] " + ", ".join(f"{n}: {s[-1]['wall']:.3f} s" for n, s in samples.items())
            )
    return {name: summary(values) for name, values in samples.items()}


def bytecode() -> dict[str, Any]:
    """Whether acmevault's modules have their bytecode (`make setup` compiles it; without it, and with
    PYTHONDONTWRITEBYTECODE set, every acmevault process compiles the package again)."""
    import importlib.util

    import acmevault_cli.cli

    source = str(acmevault_cli.cli.__file__)
    return {
        "compiled": Path(importlib.util.cache_from_source(source)).exists(),
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
    }


def instructions(ctx: Context, baseline: str | None) -> dict[str, int]:
    """Instructions executed by one run of each acmevault command (valgrind's callgrind, "I refs"): unlike
    time, the count hardly moves with other load on the machine, so two versions compare across runs."""
    valgrind = bench.require_binary("valgrind")
    counts: dict[str, int] = {}
    for label, tool in (
        ("acmevault", bench.AcmevaultCli(ctx)),
        *((("baseline", BaselineCli(ctx, baseline)),) if baseline else ()),
    ):
        index = 1000 + len(counts)  # a certificate of its own, past the timed ones
        tool.prepare(index)
        for what, argv in (
            ("cert issue", [tool.cli, "cert", "issue", tool.cert_name(index)]),
            ("cert list", [tool.cli, "cert", "list"]),
            (f"directory show {bench.DIRECTORY}", [tool.cli, "directory", "show", bench.DIRECTORY]),
            ("--help", [tool.cli, "--help"]),
        ):
            report = ctx.work / "callgrind.log"
            argv = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", f"--log-file={report}", *argv]
            bench.run(argv, tool.env, tool.log, timeout=600)
            found = re.search(r"I\s+refs:\s+([\d,]+)", report.read_text())
            if found is None:
                raise BenchError(f"valgrind reported no instruction count for {what}: {report.read_text()[-500:]}")
            counts[f"{label} {what}"] = int(found.group(1).replace(",", ""))
            progress(f"[instructions] {label} {what}: {counts[f'{label} {what}']:,}")
    return counts


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    bench.require_binary("lego")
    if args.certbot:
        bench.ensure_certbot()
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    spawner = Spawner()
    try:
        floor = spawner.measure(["/bin/true"], {}, Path(os.devnull))["peak_rss_mb"]
        with bench.local_stack() as ctx:
            pairs = issue_pairs(ctx, spawner, args)
            read_only = commands(ctx, spawner, args.command_runs, args.baseline)
            counted = instructions(ctx, args.baseline) if args.instructions else {}
    finally:
        spawner.close()
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "pairs": args.pairs,
        "baseline": args.baseline,
        "command_runs": args.command_runs,
        "machine": bench.machine(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "pebble": bench.debian_version("pebble"),
        "pebble_env": {"PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_VA_NOSLEEP": "1", **bench.PEBBLE_ENV},
        "rss_floor_mb": floor,
        "acmevault_bytecode": bytecode(),
        "targets": TARGETS,
        "issue": pairs,
        "commands": read_only,
        "instructions": counted,
    }


# -- report ----------------------------------------------------------------------------------------


def met(value: bool) -> str:
    return "yes" if value else "**no**"


def markdown(results: dict[str, Any]) -> str:
    host, load, issue = results["machine"], results["load_average"], results["issue"]
    vault, lego = issue["tools"]["acmevault"], issue["tools"]["lego"]
    lines = [
        f"Whole processes on one local Pebble ({results['pebble']}, always-valid challenges), {results['pairs']} "
        f"interleaved pairs after a warm-up pair; {host['nproc']} CPUs ({host['cpu']}), Python {host['python']}; "
        f"load average {load['before'][0]:.2f} before, {load['after'][0]:.2f} after.",
        "",
        "| one EC P-256 certificate, one name | wall median | CPU median | peak RSS median (max) |",
        "| --- | ---: | ---: | ---: |",
    ]
    baseline = issue["tools"].get("acmevault-baseline")
    rows = [(f"`acmevault cert issue` ({vault['version']})", vault)]
    if baseline is not None:
        rows.append((f"`acmevault cert issue`, baseline ({baseline['version']})", baseline))
    certbot = issue["tools"].get("certbot")
    if certbot is not None:
        rows.append((f"`certbot certonly --manual` ({certbot['version']})", certbot))
    rows.append((f"`lego run` ({lego['version']})", lego))
    for label, tool in rows:
        lines.append(
            f"| {label} | {tool['wall']['median']:.3f} s | {tool['cpu']['median']:.3f} s "
            f"| {tool['peak_rss_mb']['median']:.0f} MB ({tool['peak_rss_mb']['max']:.0f} MB) |"
        )
    targets = results["targets"]
    lines += [
        "",
        f"acmevault / lego, wall: ratio of the medians **{issue['ratio_of_medians']:.2f}**, median of the "
        f"{results['pairs']} pair ratios {issue['median_pair_ratio']:.2f} (target < {targets['ratio']:.1f}: "
        f"{met(issue['ratio_of_medians'] < targets['ratio'] and issue['median_pair_ratio'] < targets['ratio'])}); "
        f"acmevault CPU {vault['cpu']['median']:.3f} s (target <= {targets['issue_cpu_seconds']} s: "
        f"{met(vault['cpu']['median'] <= targets['issue_cpu_seconds'])}); peak RSS "
        f"{vault['peak_rss_mb']['median']:.0f} MB (target <= {targets['issue_peak_rss_mb']:.0f} MB: "
        f"{met(vault['peak_rss_mb']['max'] <= targets['issue_peak_rss_mb'])}).",
        "",
        f"lego finished without its 500 ms wait after finalizing (Pebble's order already valid) in "
        f"{issue['lego_without_its_wait']} of {results['pairs']} runs; the ratio compares like with like only "
        "when that count is 0 (or every run).",
        "",
        f"| read-only command ({results['command_runs']} runs each) | wall median (max) | CPU median "
        f"| peak RSS median | < {targets['command_wall_seconds'] * 1000:.0f} ms |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, figures in results["commands"].items():
        wall = figures["wall"]
        lines.append(
            f"| `{name}` | {wall['median'] * 1000:.0f} ms ({wall['max'] * 1000:.0f} ms) "
            f"| {figures['cpu']['median'] * 1000:.0f} ms | {figures['peak_rss_mb']['median']:.0f} MB "
            f"| {met(wall['median'] < targets['command_wall_seconds'])} |"
        )
    lines += [
        "",
        f"Measured by a helper process through wait4(): CPU is user + system time of the timed process, peak RSS "
        f"its ru_maxrss (the helper's floor: {results['rss_floor_mb']:.1f} MB, `/bin/true`'s figure). acmevault's "
        f"bytecode compiled: {'yes' if results['acmevault_bytecode']['compiled'] else '**no** (run `make setup`)'}.",
    ]
    if results["instructions"]:
        lines += ["", "| one run under valgrind | instructions |", "| --- | ---: |"]
        lines += [f"| `{name}` | {count / 1e9:.3f} G |" for name, count in results["instructions"].items()]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=9, help="timed pairs after the warm-up (default %(default)s)")
    parser.add_argument(
        "--command-runs", type=int, default=9, help="timed runs of each read-only command (default %(default)s)"
    )
    parser.add_argument(
        "--certbot", action="store_true", help="certbot too, in every round (`certbot certonly --manual`, as run.py)"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count the instructions of one run of each acmevault command under valgrind (slow: minutes)",
    )
    parser.add_argument(
        "--baseline",
        metavar="PATH",
        help="another acmevault command (an older checkout's .venv/bin/acmevault) timed in the same rounds",
    )
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.command_runs < 1:
        parser.error("--pairs and --command-runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    return bench.run_and_report(benchmark, parse_args(sys.argv[1:] if argv is None else argv), RESULTS, markdown)


if __name__ == "__main__":
    sys.exit(main())
