"""`acmevault cert list`: days to expiry, and what needs looking at — expired, failing, expiring, awaiting
the CA, due — marked in words, coloured only on a terminal and never with NO_COLOR; `--json` unchanged."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

from acmevault.composition.config import Settings
from acmevault.composition.services import build
from acmevault_cli.commands.cert_views import attention


def rows(out: str) -> dict[str, dict[str, str]]:
    """The table as {name: {column: cell}}; the NAMES and ATTENTION cells hold no double spaces."""
    header, *lines = out.splitlines()
    starts = [header.index(column) for column in header.split()]
    columns = [c.lower() for c in header.split()]
    table = {}
    for line in lines:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        table[cells[0]] = dict(zip(columns, cells, strict=True))
    return table


def certificates(stack):
    return build(Settings.from_env(stack.env)).certificates


def test_the_list_shows_days_to_expiry_and_what_needs_attention(stack, cli, directory, unique):
    issued, fresh, failing = f"ok-{unique}", f"new-{unique}", f"bad-{unique}"
    for name, domain, extra in (
        (issued, f"{issued}.example.com", ()),
        (fresh, f"{fresh}.example.com", ()),
        (failing, f"www.{unique}.nozone.test", ("--challenge", "dns-01")),
    ):
        assert cli("cert", "put", name, "-d", domain, "--directory", directory, *extra).code == 0
    assert cli("cert", "issue", issued).code == 0
    assert cli("cert", "issue", failing).code == 1
    listed = rows(cli("cert", "list").out)
    assert listed[issued]["days"] in ("89", "90") and listed[issued]["attention"] == "-"
    assert listed[fresh]["days"] == "-" and listed[fresh]["attention"] == "due"
    assert listed[failing]["status"] == "failed" and listed[failing]["attention"] == "failing (1 in a row), due"
    assert "\033[" not in cli("cert", "list").out, "no colour when stdout is not a terminal"


def test_expiring_expired_and_awaiting_the_ca_are_marked(stack, cli, directory, unique):
    name = f"exp-{unique}"
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    assert cli("cert", "issue", name).code == 0
    cert = certificates(stack).get(name)
    not_after = cert.state.not_after
    assert attention(cert, not_after - timedelta(days=80)) == []
    assert attention(cert, not_after - timedelta(days=1)) == ["expiring", "due"]
    assert attention(cert, not_after + timedelta(days=1)) == ["expired", "due"]
    # `awaiting_ca`: an order the CA is still approving (DigiCert) is not due again and not a failure
    waiting = replace(cert, state=replace(cert.state, status=SimpleNamespace(value="awaiting_ca")))
    assert attention(waiting, not_after - timedelta(days=80)) == ["awaiting CA"]


def test_json_is_the_apis_view_without_the_table_columns(stack, cli, directory, unique):
    name = f"json-{unique}"
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    [listed] = [c for c in json.loads(cli("cert", "list", "--json").out) if c["name"] == name]
    assert json.loads(cli("cert", "show", name, "--json").out) == listed
    assert "days" not in listed and "attention" not in listed


def on_a_terminal(stack, *argv: str, **env: str) -> str:
    """What the command writes to a terminal (a pseudo-terminal), with the stack's variables."""
    controller, terminal = pty.openpty()
    shell = {**os.environ, **stack.env, **env}
    with subprocess.Popen(
        [sys.executable, "-m", "acmevault_cli.cli", *argv], stdout=terminal, stderr=terminal, env=shell
    ) as process:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the command is done
                break
            if not chunk:
                break
            chunks.append(chunk)
        process.wait(timeout=60)
    os.close(controller)
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_and_never_with_no_color(stack, cli, directory, unique):
    name = f"tty-{unique}"
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).code == 0
    coloured = on_a_terminal(stack, "cert", "list", NO_COLOR="")
    line = next(line for line in coloured.splitlines() if name in line)
    assert line.startswith("\033[33m") and "due" in line, repr(line)  # due: yellow
    plain = on_a_terminal(stack, "cert", "list", NO_COLOR="1")
    assert name in plain and "\033[" not in plain
