"""The command line imports a verb's module only when that verb runs: `acmevault --help` loads none of them,
and so neither boto3 nor acme (a command that only prints help stays instant)."""

from __future__ import annotations

import json
import subprocess
import sys

from acmevault_cli.parser import VERBS, build_parser

HEAVY = ("boto3", "botocore", "acme", "josepy", "acmevault.composition.services")
PROBE = """
import contextlib, io, json, sys
from acmevault_cli.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(sys.argv[1:])
print(json.dumps(sorted(sys.modules)))
"""


def loaded(*argv: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running `acmevault ARGV`."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_top_level_help_imports_no_verb_and_neither_boto3_nor_acme():
    modules = loaded("--help")
    assert "acmevault_cli.cli" in modules  # the probe ran the command
    assert not modules & {*HEAVY, *(module for _, module in VERBS.values())}


def test_a_verb_imports_its_own_module_only():
    modules = loaded("local", "--help")  # the verb that loads least (no composition root): a fast check
    assert VERBS["local"][1] in modules
    assert not modules & {module for other, (_, module) in VERBS.items() if other != "local"}


def test_every_verb_filled_in_has_its_actions():
    top = next(a for a in build_parser(every_verb=True)._actions if a.choices and a.dest == "command")
    assert set(top.choices) == set(VERBS)
    for verb, parser in top.choices.items():
        assert parser._actions[1:], f"{verb} has no options or actions"
