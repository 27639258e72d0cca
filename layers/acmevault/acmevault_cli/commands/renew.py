"""`acmevault renew --due`: the scheduled sweep and the issue worker in one process, with a progress bar."""

from __future__ import annotations

import argparse
import gc
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from acmevault.app.renewal import Outcome, renew_due
from acmevault.domain.errors import AcmeVaultError, ValidationError

from acmevault_cli.arguments import DEFAULT_TIMEOUT, check_timeout, count, seconds
from acmevault_cli.operator import services
from acmevault_cli.output import progress


def renew(args: argparse.Namespace) -> int:
    """Renew every certificate that is due, ``--workers`` at once; fail naming the ones that failed."""
    if not args.due:
        raise ValidationError("--due", "say which certificates to renew: 'acmevault renew --due'")
    check_timeout(args.timeout)
    gc.enable()  # off in the `acmevault` program (acmevault_cli.__main__); a sweep may run for minutes
    now = datetime.now(UTC)
    total = sum(1 for _ in services().certificates.due(now))
    if not total:
        print("no certificate is due for renewal")
        return 0
    bar = ProgressBar(total, failing=(Outcome.FAILED, Outcome.ISSUED_REGION_FAILING))
    outcomes = renew_due(services(), now, args.timeout, workers=args.workers, progress=bar.step)
    bar.done()
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
    print(f"{sum(outcomes.values())} certificates looked at: {summary}")
    if bar.failed_names:
        shown = ", ".join(sorted(bar.failed_names)[:5]) + (", ..." if len(bar.failed_names) > 5 else "")
        raise AcmeVaultError(
            f"{len(bar.failed_names)} of {total} failed or are not in every ACM region ({shown}); "
            "'acmevault cert show NAME' has each one's error"
        )
    return 0


class ProgressBar:
    """A one-line progress bar on stderr (a line per certificate when stderr is not a terminal)."""

    def __init__(self, total: int, failing: Sequence[str] = ("failed",)) -> None:
        self.total, self.count, self.failed = total, 0, 0
        self.failing = failing  # the outcomes that make the sweep fail
        self.failed_names: list[str] = []
        self.tty = sys.stderr.isatty()
        self._lock = threading.Lock()

    def step(self, name: str, outcome: str) -> None:
        """One certificate done, with its outcome."""
        with self._lock:
            self.count += 1
            self.failed += outcome == "failed"
            if outcome in self.failing:
                self.failed_names.append(name)
            if self.tty:
                filled = 30 * self.count // self.total
                bar = "#" * filled + "." * (30 - filled)
                print(
                    f"\r[{bar}] {self.count}/{self.total} ({self.failed} failed) {name[:30]:30}",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                progress(f"[{self.count}/{self.total}] {name}: {outcome}")

    def done(self) -> None:
        """End the bar's line."""
        if self.tty:
            print(file=sys.stderr)


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of `acmevault renew`."""
    parser.add_argument("--due", action="store_true", help="renew every certificate whose renewal time has come")
    parser.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, help="seconds per certificate")
    parser.add_argument("--workers", type=count, default=8, help="certificates worked at once (default %(default)s)")
    parser.set_defaults(run=renew)
