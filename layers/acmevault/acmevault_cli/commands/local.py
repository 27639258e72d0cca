"""`acmevault local`: the local stack (Pebble + moto) for development and tests — start it, stop it, and
run a function's handler with an event as `sam local invoke` would.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from acmevault.domain.errors import AcmeVaultError

from acmevault_cli.local.invoke import find_function, invoke, load_event
from acmevault_cli.local.stack import LocalStack
from acmevault_cli.output import print_json, progress, terminal

LOCAL_DIR = ".acmevault-local"
LOCAL_DNS_PORT = 14053


def _stack(args: argparse.Namespace) -> LocalStack:
    dns_port = LOCAL_DNS_PORT if getattr(args, "real_dns", False) else None
    return LocalStack(Path(args.state_dir).resolve(), listen=getattr(args, "listen", "127.0.0.1"), dns_port=dns_port)


def local_up(args: argparse.Namespace) -> int:
    """Start the local stack and print the export lines that point the command and the functions at it."""
    progress("starting Pebble (EAB required) and moto on 127.0.0.1 ...")
    variables = _stack(args).up()
    terminal().clear()
    for key, value in variables.items():
        print(f"export {key}={value}")
    print(
        f"# local stack up (CloudFormation stack {_stack(args).name} in moto, for --stack); state in "
        f"{args.state_dir}; stop it with 'acmevault local down'"
    )
    return 0


def local_down(args: argparse.Namespace) -> int:
    """Stop the local stack."""
    stopped = _stack(args).down()
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    return 0


def local_invoke(args: argparse.Namespace) -> int:
    """Run a function's handler with an event file, against the local stack; print what it returned."""
    definition = find_function(Path(args.template), args.function)
    event = load_event(Path(args.event))
    try:
        result = invoke(definition, event, _stack(args).env())
    except Exception as error:  # reported the way Lambda reports a function error, then as a failure
        first_line = (str(error).splitlines() or [""])[0]
        print_json({"errorType": type(error).__name__, "errorMessage": first_line})
        raise AcmeVaultError(f"{definition.logical_id} raised {type(error).__name__}: {first_line}") from error
    print_json(result)
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """The actions of `acmevault local` and their options."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    state_dir = os.environ.get("ACMEVAULT_LOCAL_STATE", LOCAL_DIR)
    up = actions.add_parser("up", help='start it and print export lines: eval "$(acmevault local up)"')
    up.add_argument(
        "--listen",
        default="127.0.0.1",
        help="address to listen on (0.0.0.0 for sam local invoke in Docker; default %(default)s)",
    )
    up.add_argument(
        "--real-dns",
        action="store_true",
        help=f"Pebble really checks dns-01: it looks records up in a DNS server on 127.0.0.1:{LOCAL_DNS_PORT} "
        "that reads Route 53 (moto)",
    )
    down = actions.add_parser("down", help="stop it")
    run = actions.add_parser("invoke", help="run a function's handler with an event, as sam local invoke")
    run.add_argument("function", help="logical id (IssueFunction) or folder name (issue)")
    run.add_argument("-e", "--event", required=True, help="event JSON file")
    run.add_argument("-t", "--template", default="template.yaml")
    for sub, verb in ((up, local_up), (down, local_down), (run, local_invoke)):
        sub.add_argument("--state-dir", default=state_dir, help="where the stack keeps its files (%(default)s)")
        sub.set_defaults(run=verb)
