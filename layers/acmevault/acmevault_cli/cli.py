"""The acmevault command: the same use cases as the Lambda functions, straight to AWS or the local stack.

Exit status 0 on success; otherwise exactly one line on stderr, saying what failed and what to do,
and 1 (2 for bad input); ``-v`` adds the detail. Every verb gets this from ``main``: a verb raises an
AcmeVaultError and returns 0. The EAB HMAC key is read from stdin or a hidden prompt, never from argv.
With ``--stack NAME`` (or ACMEVAULT_STACK) the settings come from that CloudFormation stack's outputs.

The verbs are the modules of ``acmevault_cli.commands``, and ``acmevault_cli.parser`` imports only the
one being run: ``acmevault --help`` loads neither boto3 nor acme.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from acmevault.domain.errors import AcmeVaultError, ConfigurationError
from acmevault.domain.quoting import argument_label
from acmevault.domain.redaction import redact

from acmevault_cli.output import EXIT_BAD_INPUT, EXIT_INTERRUPTED, open_terminal
from acmevault_cli.parser import BadUsage, build_parser

_SECRET_FLAGS = ("--eab-hmac", "--hmac-key", "--hmac=", "--eab-hmac-key")


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (the CLI may run in-process, under a test runner)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"acmevault: {record.levelname.lower()}: {redact(record.getMessage())}", file=sys.stderr)


def _log_to_stderr(level: int) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        root.addHandler(handler)
    handler.setLevel(level)
    if root.level > level:
        root.setLevel(level)


def _subject(args: argparse.Namespace) -> str:
    """What was being done, for the failure line: 'cert issue web'."""
    from acmevault.domain.validation import NAME_PATTERN

    name = getattr(args, "name", None)
    if isinstance(name, str) and not NAME_PATTERN.fullmatch(name):
        name = None  # an invalid NAME is quoted safely by its own error, never echoed here
    words = [getattr(args, "command", None), getattr(args, "action", None), name]
    return " ".join(str(w) for w in words if w)


@contextmanager
def _deployed_stack(args: argparse.Namespace) -> Iterator[None]:
    """With --stack (or ACMEVAULT_STACK) and --region: the settings from the stack's outputs, for this call."""
    if args.command == "local" or not (args.stack or args.aws_region):
        yield
        return
    from acmevault.composition import config, services

    from acmevault_cli.stack import environment

    region = args.aws_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or _aws_region()
    if not region:
        raise ConfigurationError("no AWS region: pass --region, set AWS_REGION, or set one in your AWS config")
    overlay = environment(args.stack, region) if args.stack else {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    saved = {key: os.environ.get(key) for key in overlay}
    os.environ.update(overlay)
    _forget_settings(config, services)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _forget_settings(config, services)


def _aws_region() -> str | None:
    from acmevault.adapters.aws.clients import configured_region

    return configured_region()


def _forget_settings(config: Any, services: Any) -> None:
    # The settings and the adapters built from them are read once per process; the stack changes them.
    config.settings.cache_clear()
    for built in (services.services, services.queue, services.rotation):
        built.cache_clear()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure ends here as exactly one line on stderr (see acmevault_cli.output)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    terminal = open_terminal(verbose="-v" in argv or "--verbose" in argv)
    if any(a.startswith(_SECRET_FLAGS) for a in argv):
        never = "the EAB HMAC key is never taken from the command line; pipe it on stdin"
        return terminal.report("", never, EXIT_BAD_INPUT)
    try:
        args, unknown = build_parser().parse_known_args(argv)
    except BadUsage as usage:
        subject = usage.prog.removeprefix("acmevault").strip()
        return terminal.report(subject, usage.message, EXIT_BAD_INPUT, f"see '{usage.prog} --help'")
    if unknown:
        # Named when they look like an option or a word; a pasted secret is described by its length.
        shown = ", ".join(argument_label(a) for a in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        what = f"{len(unknown)} unrecognised argument(s): {shown}"
        return terminal.report(_subject(args), what, EXIT_BAD_INPUT, "see --help")
    terminal.verbose = args.verbose
    _log_to_stderr(logging.INFO if args.verbose else logging.CRITICAL + 1)
    try:
        if getattr(args, "name", None) is not None:
            from acmevault.domain.validation import validate_name

            validate_name(args.name)  # every NAME argument, before anything looks it up
        with _deployed_stack(args):
            return int(args.run(args))
    except KeyboardInterrupt:
        terminal.fail(_subject(args), AcmeVaultError("interrupted"))
        return EXIT_INTERRUPTED
    except AcmeVaultError as error:
        return terminal.fail(_subject(args), error)
    except Exception as error:  # noqa: BLE001 - the command's last word: one line, the traceback under -v
        return terminal.fail(_subject(args), error)
    finally:
        terminal.clear()


if __name__ == "__main__":
    sys.exit(main())
