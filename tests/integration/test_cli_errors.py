"""Every verb's failures: exactly one line on stderr — what failed and what to do — exit 2 for bad input,
1 otherwise, and nothing changed; `-v` adds the detail under that line."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from acmevault_cli.parser import build_parser

# A well-formed HMAC key Pebble does not know (base64url of 32 bytes): the CA refuses it.
UNKNOWN_HMAC = "c29tZS1obWFjLWtleS10aGUtY2EtZG9lcy1ub3Qta25vdw"


@dataclass(frozen=True)
class Failure:
    verb: tuple[str, ...]  # ("cert", "put"), ("renew",), ...
    argv: tuple[str, ...]  # {name}, {dir}, {url}, {tmp} are filled in
    code: int
    says: str  # part of the one line
    stdin: str = ""


FAILURES = [
    Failure(("directory", "put"), ("directory", "put", "d-{name}", "--url", "http://x.test/dir"), 2, "directory_url"),
    Failure(
        ("directory", "put"),
        ("directory", "put", "d-{name}", "--url", "{url}", "--eab-kid", "kid-1"),
        1,
        "the CA rejected the credential (check eab_kid and eab_hmac_key)",
        stdin=UNKNOWN_HMAC,
    ),
    Failure(("directory", "put"), ("directory", "put", "Bad_Name", "--url", "{url}"), 2, "not a valid name"),
    Failure(("directory", "list"), ("--stack", "nope-{name}", "directory", "list"), 1, "does not exist"),
    Failure(("directory", "show"), ("directory", "show", "missing-{name}"), 1, "does not exist"),
    Failure(("directory", "rotate"), ("directory", "rotate", "missing-{name}"), 1, "does not exist"),
    Failure(
        ("directory", "rotate"),
        ("directory", "rotate", "{dir}", "--url", "{url}", "--certcentral"),
        2,
        "not both",
    ),
    Failure(("directory", "revoke"), ("directory", "revoke", "missing-{name}"), 1, "does not exist"),
    Failure(
        ("directory", "policy"),
        ("directory", "policy", "missing-{name}", "--allow-domain", "example.com"),
        1,
        "vault it",
    ),
    Failure(
        ("directory", "policy"), ("directory", "policy", "{dir}", "--allow-principal", "*"), 2, "allowed_principals"
    ),
    Failure(
        ("directory", "policy"), ("directory", "policy", "{dir}", "--allow-domain", "bad..name"), 2, "allowed_domains"
    ),
    Failure(("directory", "revoke-previous"), ("directory", "revoke-previous", "missing-{name}"), 1, "does not exist"),
    Failure(("cert", "put"), ("cert", "put", "{name}", "-d", "bad..name", "--directory", "{dir}"), 2, "domains"),
    Failure(("cert", "put"), ("cert", "put", "{name}", "-d", "a.example.com", "--directory", "no-{name}"), 1, "vault"),
    Failure(("cert", "put"), ("cert", "put", "{name}", "--directory", "{dir}"), 2, "domains: is required"),
    Failure(
        ("cert", "put"),
        ("cert", "put", "{name}", "-d", "a.example.com", "--directory", "{dir}", "--renew-fraction", "1.5"),
        2,
        "renew_fraction: 1.5 is not a number from 0.05 to 0.95",
    ),
    Failure(("cert", "issue"), ("cert", "issue", "missing-{name}"), 1, "define it with 'acmevault cert put"),
    Failure(("cert", "renew"), ("cert", "renew", "missing-{name}"), 1, "does not exist"),
    Failure(("cert", "renew"), ("cert", "renew", "missing-{name}", "--timeout", "5000"), 2, "--timeout"),
    Failure(("cert", "reset"), ("cert", "reset", "missing-{name}"), 1, "does not exist"),
    Failure(("cert", "forget-region"), ("cert", "forget-region", "missing-{name}", "mars-1"), 2, "region"),
    Failure(("cert", "forget-region"), ("cert", "forget-region", "missing-{name}", "eu-west-1"), 1, "does not exist"),
    Failure(("cert", "list"), ("--stack", "nope-{name}", "cert", "list"), 1, "sam deploy --guided"),
    Failure(("cert", "show"), ("cert", "show", "missing-{name}"), 1, "does not exist"),
    Failure(("cert", "delete"), ("cert", "delete", "missing-{name}"), 1, "does not exist"),
    Failure(("cert", "delete"), ("cert", "delete", "missing-{name}", "--revoke", "because"), 2, "--revoke"),
    Failure(("cert", "revoke"), ("cert", "revoke", "missing-{name}", "--reason", "nope"), 2, "--reason"),
    Failure(("cert", "revoke"), ("cert", "revoke", "missing-{name}", "--reason", "superseded"), 1, "does not exist"),
    Failure(("renew",), ("renew",), 2, "--due"),
    Failure(("local", "up"), ("local", "up", "--state-dir", "{tmp}/up"), 1, "is in use"),
    Failure(("local", "down"), ("local", "down", "--state-dir", "{tmp}/corrupt"), 1, "unexpected ValueError"),
    Failure(("local", "invoke"), ("local", "invoke", "nope", "-e", "events/issue-sqs.json"), 1, "no function 'nope'"),
    Failure(("local", "invoke"), ("local", "invoke", "IssueFunction", "-e", "{tmp}/none.json"), 1, "does not exist"),
    Failure((), ("frobnicate",), 2, "invalid choice"),
    Failure(("cert", "put"), ("cert", "put"), 2, "the following arguments are required: name"),
    Failure(("directory", "put"), ("directory", "put", "x", "--url", "{url}", "--eab-hmac-key=abc"), 2, "never taken"),
]


def verbs() -> set[tuple[str, ...]]:
    """Every verb the parser knows: ("cert", "put"), ..., ("renew",)."""
    found = set()
    top = next(a for a in build_parser(every_verb=True)._actions if a.choices and a.dest == "command")
    for command, parser in top.choices.items():
        nested = [a for a in parser._actions if a.choices and a.dest == "action"]
        found.update((command, action) for action in nested[0].choices) if nested else found.add((command,))
    return found


def test_every_verb_has_its_failures_tested():
    missing = verbs() - {f.verb for f in FAILURES}
    assert not missing, f"add a failure case for acmevault {', '.join(' '.join(v) for v in sorted(missing))}"


@pytest.fixture
def occupied_local_port():
    """Hold the local stack's default Pebble port, as another stack already running would."""
    with socket.socket() as held:
        with contextlib.suppress(OSError):  # something holds it already: the stack refuses all the same
            held.bind(("127.0.0.1", 14000))
        yield


@pytest.mark.parametrize("case", FAILURES, ids=lambda c: "-".join(c.argv[:3]))
def test_a_failure_is_one_line_on_stderr(case, stack, cli, directory, unique, state, tmp_path, occupied_local_port):
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "moto.pid").write_text("not a pid\n")
    values = {"name": f"c-{unique}", "dir": directory, "url": stack.directory_url, "tmp": str(tmp_path)}
    argv = [a.format(**values) for a in case.argv]
    before = state()
    result = cli(*argv, stdin=case.stdin)
    lines = result.err.splitlines()
    assert result.code == case.code, (argv, result.err)
    assert len(lines) == 1, (argv, result.err)
    assert lines[0].startswith("acmevault"), lines
    assert case.says.format(**values) in lines[0], lines
    assert state() == before


def failing_dns01_cert(cli: Any, directory: str, unique: str) -> str:
    name = f"nozone-{unique}"
    domain = f"www.{unique}.nozone.test"
    put = cli("cert", "put", name, "-d", domain, "--directory", directory, "--challenge", "dns-01")
    assert put.code == 0, put.err
    return name


def test_a_failing_issue_prints_its_reason_once(stack, cli, directory, unique):
    name = failing_dns01_cert(cli, directory, unique)
    result = cli("cert", "issue", name)
    assert result.code == 1
    assert result.err.count("no Route 53 hosted zone") == 1, "the reason, once"
    [line] = result.err.splitlines()
    assert line.startswith(f"acmevault: cert issue {name}: www.{unique}.nozone.test: no Route 53 hosted zone"), line
    # the record keeps the error for `cert show` (as IssueFunction leaves it)
    shown = cli("cert", "show", name, "--json")
    assert "no Route 53 hosted zone" in shown.out


def test_verbose_adds_the_detail_under_the_same_line(stack, cli, directory, unique):
    name = failing_dns01_cert(cli, directory, unique)
    quiet = cli("cert", "issue", name)
    loud = cli("-v", "cert", "issue", name)
    assert loud.code == quiet.code == 1
    failure_lines = [line for line in loud.err.splitlines() if line.startswith("acmevault: cert issue")]
    assert failure_lines == quiet.err.splitlines()
    assert len(loud.err.splitlines()) > 1, "-v shows what was being done"
    assert f"issuing {name} ..." in loud.err


def test_success_writes_nothing_on_stderr(stack, cli, directory, unique):
    name = f"ok-{unique}"
    assert cli("cert", "put", name, "-d", f"{name}.example.com", "--directory", directory).err == ""
    issued = cli("cert", "issue", name)
    assert issued.code == 0 and issued.err == ""
    assert f"certificate {name}: issued serial" in issued.out


def test_an_unexpected_error_is_one_line_and_its_traceback_only_under_verbose(stack, cli, tmp_path: Path):
    (tmp_path / "moto.pid").write_text("not a pid\n")
    quiet = cli("local", "down", "--state-dir", str(tmp_path))
    assert quiet.err.splitlines() == [
        "acmevault: local down: unexpected ValueError; run again with -v for the traceback, and report it"
    ]
    loud = cli("-v", "local", "down", "--state-dir", str(tmp_path))
    assert "Traceback" in loud.err and "int(pid_file.read_text())" in loud.err
