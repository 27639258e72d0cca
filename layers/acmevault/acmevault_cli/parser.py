"""The acmevault command line's grammar: the verbs, the options every verb takes, and a usage error as
one line (``BadUsage``) rather than argparse's usage dump.

Each verb is a module of ``acmevault_cli.commands`` whose ``configure(parser)`` fills in the verb's
parser: its actions, their options, and the function each runs (``run``). The module is imported only
when its verb is on the command line, so ``acmevault --help`` imports none of them (and through them
neither boto3 nor acme); ``build_parser(every_verb=True)`` fills them all in, for tests and docs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import weakref
from collections.abc import Sequence
from typing import Any, NoReturn

from acmevault.domain.redaction import redact

# verb → (its help line, the module that defines it); the order is the order of `acmevault --help`.
VERBS: dict[str, tuple[str, str]] = {
    "directory": ("ACME directory credentials", "acmevault_cli.commands.directory"),
    "cert": ("certificates", "acmevault_cli.commands.cert"),
    "renew": ("the scheduled sweep, run here", "acmevault_cli.commands.renew"),
    "local": ("the local stack (Pebble + moto)", "acmevault_cli.commands.local"),
}


_FILLED: weakref.WeakSet[argparse.ArgumentParser] = weakref.WeakSet()


class BadUsage(Exception):
    """argparse found the command line wrong: reported in one line like every other failure."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog, self.message = prog, message


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error raised (one line from main, redacted) rather than printed with the usage."""

    def error(self, message: str) -> NoReturn:
        raise BadUsage(self.prog, redact(message))  # usage errors quote what was typed


class _Verbs(argparse._SubParsersAction):  # type: ignore[type-arg]
    """The verbs; each verb's parser is filled in (its module imported) when it is the verb being run."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if isinstance(values, Sequence) and values and not isinstance(values, str):
            fill(self, str(values[0]))
        super().__call__(parser, namespace, values, option_string)


def fill(verbs: argparse._SubParsersAction, verb: str) -> None:  # type: ignore[type-arg]
    """Fill in ``verb``'s parser from its module, once, with the global options on each of its actions."""
    parser = verbs.choices.get(verb)
    if parser is None or parser in _FILLED:
        return
    importlib.import_module(VERBS[verb][1]).configure(parser)
    _everywhere(parser)
    _FILLED.add(parser)


def global_options(parser: argparse.ArgumentParser, stack: Any, region: Any, verbose: Any) -> None:
    """-v, --stack and --region, with the given defaults."""
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=verbose, help="log what is being done, and a failure's detail"
    )
    parser.add_argument(
        "--stack",
        default=stack,
        metavar="NAME",
        help="the deployed CloudFormation stack to work on: its outputs name the table, bucket, key, queue and "
        "topic (default: ACMEVAULT_STACK; without either, the ACMEVAULT_* variables)",
    )
    parser.add_argument(
        "--region",
        dest="aws_region",  # not "region": a verb may take a region of its own (an ACM region)
        default=region,
        help="the stack's AWS region (default: AWS_REGION, or your AWS config's)",
    )


def _everywhere(parser: argparse.ArgumentParser) -> None:
    """-v, --stack and --region after the verb too (`acmevault cert list --stack prod`), as aws takes --region:
    on every action, without a default of their own, so one given before the verb stands."""
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not nested:
        global_options(parser, argparse.SUPPRESS, argparse.SUPPRESS, argparse.SUPPRESS)
    for action in nested:
        for sub in dict.fromkeys(action.choices.values()):
            _everywhere(sub)


def build_parser(every_verb: bool = False) -> argparse.ArgumentParser:
    """The command's parser; a verb's own options are filled in when it is parsed (or all now, with
    ``every_verb``)."""
    parser = _Parser(
        prog="acmevault",
        description="Vault ACME directory credentials and keep certificates fresh in ACM and S3.",
    )
    global_options(parser, os.environ.get("ACMEVAULT_STACK") or None, None, False)
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", action=_Verbs)
    for verb, (text, _) in VERBS.items():
        verbs.add_parser(verb, help=text)
    if every_verb:
        for verb in VERBS:
            fill(verbs, verb)
    return parser
