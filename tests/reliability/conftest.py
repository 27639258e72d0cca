"""The reliability suite (issue 7): faults at the CA and in AWS, workers killed mid-order, bad input under load.

`make test` runs it with reduced counts, so CI exercises every path; `make reliability` sets
ACMEVAULT_RELIABILITY=full for the full counts. Either way the figures end up in one Markdown
table at the end of the run (and, with ACMEVAULT_RELIABILITY_REPORT=path, as JSON in that file).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

FULL = os.environ.get("ACMEVAULT_RELIABILITY", "").lower() == "full"
SEED = int(os.environ.get("ACMEVAULT_RELIABILITY_SEED", "7"))


def scale(reduced: int, full: int) -> int:
    """How many of something this run does: the reduced count in `make test`, the full one in `make reliability`."""
    return full if FULL else reduced


@dataclass
class Row:
    scenario: str
    load: str
    faults: str
    outcome: str
    lost: str = "0"
    # issue 10: certificates ending served with the current spec, wedged (must be 0), duplicate issuances (must be 0)
    served: str = "-"
    wedged: str = "-"
    duplicates: str = "-"


@dataclass
class Report:
    """What the suite held, survived and tried; each test adds its row once its assertions have passed."""

    rows: list[Row] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, row: Row, **totals: int) -> None:
        with self._lock:
            self.rows.append(row)
            for key, value in totals.items():
                self.totals[key] = self.totals.get(key, 0) + value

    def markdown(self) -> str:
        lines = [
            "| scenario | load | faults injected (all survived) | outcome | lost | served with the current spec "
            "| wedged | duplicate issuances |",
            "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for r in self.rows:
            cells = (r.scenario, r.load, r.faults, r.outcome, r.lost, r.served, r.wedged, r.duplicates)
            lines.append("| " + " | ".join(cells) + " |")
        t = self.totals
        lines.append(
            f"| **total** | **{t.get('issuances', 0)} issuances**, {t.get('bad_inputs', 0)} bad inputs | "
            f"**{t.get('faults', 0)} faults** | every certificate issued, every bad input refused | **0** | "
            f"**{t.get('served', 0)}** | **{t.get('wedged', 0)}** | **{t.get('duplicates', 0)}** |"
        )
        return "\n".join(lines)


REPORT = Report()


@pytest.fixture(scope="session")
def report() -> Report:
    return REPORT


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT.rows:
        return
    counts = "full counts" if FULL else "reduced counts (make reliability runs the full ones)"
    terminalreporter.write_sep("=", f"reliability report: {counts}, seed {SEED}")
    terminalreporter.write_line(REPORT.markdown())
    target = os.environ.get("ACMEVAULT_RELIABILITY_REPORT")
    if target:
        data = {"full": FULL, "seed": SEED, "rows": [asdict(r) for r in REPORT.rows], "totals": REPORT.totals}
        Path(target).write_text(json.dumps(data, indent=2) + "\n")
