"""What the acmevault command writes: its results on stdout (JSON, or a table), progress, and a failure as
exactly one line on stderr (what failed, and what to do), with the detail only under ``-v``.

Progress is a status line on a terminal (cleared before anything else is written) and a log line
under ``-v``; nothing otherwise, so a script reading stderr sees only the failure. ``main`` opens one
``Terminal`` per run (``open_terminal``); the verbs write progress to it with ``progress``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

from acmevault.domain.errors import AcmeVaultError, AwsError, OutOfTime, UnavailableError, ValidationError
from acmevault.domain.redaction import redact

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

# What to do, by kind of error, when its message cannot know (the most specific class first).
_ADVICE: tuple[tuple[type[AcmeVaultError], str], ...] = (
    (OutOfTime, "run it again: the order in flight is resumed"),
    (UnavailableError, "try again later"),
    (AwsError, "check the AWS credentials, region and the caller's permissions"),
)


class Terminal:
    """The command's stderr: a status line while working, one line on failure."""

    def __init__(self, verbose: bool = False, stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self._stream = stream
        self._status_shown = False

    @property
    def stream(self) -> TextIO:
        """Where the lines go."""
        return self._stream or sys.stderr  # whatever stderr is now (tests capture it)

    @property
    def interactive(self) -> bool:
        """Whether a person is watching (the stream is a terminal)."""
        return self.stream.isatty()

    def status(self, message: str) -> None:
        """Progress: a transient line on a terminal, a line under -v, nothing otherwise."""
        if self.interactive:
            print(f"\r\033[K{message}", end="", file=self.stream, flush=True)
            self._status_shown = True
        elif self.verbose:
            print(message, file=self.stream, flush=True)

    def clear(self) -> None:
        """Take the status line away, if one is shown."""
        if self._status_shown:
            print("\r\033[K", end="", file=self.stream, flush=True)
            self._status_shown = False

    def fail(self, subject: str, error: BaseException) -> int:
        """Write the one line for ``error`` (and, under -v, its detail); return the exit status."""
        if isinstance(error, AcmeVaultError):
            message, status = error.message, EXIT_BAD_INPUT if isinstance(error, ValidationError) else EXIT_FAILED
            advice = next((text for kind, text in _ADVICE if isinstance(error, kind)), None)
        else:  # a bug or an error nobody translated: its type, never its text (it may quote anything)
            message, status = f"unexpected {type(error).__name__}", EXIT_FAILED
            advice = "run again with -v for the traceback, and report it"
        self.report(subject, message, status, advice)
        if self.verbose:
            self._detail(error)
        return status

    def report(self, subject: str, message: str, status: int, advice: str | None = None) -> int:
        """The failure line: 'acmevault: SUBJECT: MESSAGE; ADVICE' (further lines of MESSAGE under -v)."""
        self.clear()
        first, *rest = redact(message).splitlines() or [""]
        line = f"acmevault: {subject}: {first}" if subject else f"acmevault: {first}"
        print(line + (f"; {advice}" if advice else ""), file=self.stream, flush=True)
        if self.verbose:
            for extra in rest:
                print(f"  {extra}", file=self.stream)
        return status

    def _detail(self, error: BaseException) -> None:
        cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        if cause is not None:
            print(f"  caused by {type(cause).__name__}: {redact(str(cause))}", file=self.stream)
        if not isinstance(error, AcmeVaultError):
            print(redact("".join(traceback.format_exception(error))), file=self.stream)


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set (https://no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


_STYLES = {"red": "31", "yellow": "33", "cyan": "36", "bold": "1"}


def paint(text: str, style: str | None, enabled: bool) -> str:
    """``text`` in a colour (``_STYLES``), when ``enabled``."""
    return f"\033[{_STYLES[style]}m{text}\033[0m" if enabled and style else text


_terminal = Terminal()


def open_terminal(verbose: bool) -> Terminal:
    """The terminal of one run of the command (it may run many times in one process, under a test runner)."""
    global _terminal
    _terminal = Terminal(verbose=verbose)
    return _terminal


def terminal() -> Terminal:
    """The terminal of the run in progress."""
    return _terminal


def progress(message: str) -> None:
    """What is being done: a status line on a terminal, a line under -v; never part of a failure."""
    _terminal.status(message)


def print_json(value: Any) -> None:
    """A result as JSON on stdout (``--json``): indented, keys sorted."""
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def print_table(rows: list[dict[str, Any]], columns: Sequence[str], styles: Sequence[str | None] = ()) -> None:
    """Rows as columns padded to fit, "-" for a missing value; a row's style colours it on a terminal only."""
    colour = use_colour(sys.stdout)
    cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for index, row in enumerate(cells):
        line = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        print(paint(line, styles[index] if index < len(styles) else None, colour))
