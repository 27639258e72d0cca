"""The README's Deploy, Command line and Local testing sections say what the commands do.

The Deploy section's acmevault commands run as written against the local stack, which registers itself
as a CloudFormation stack like `sam deploy` makes (the stack name, CA URL, KID and names swapped for
the local ones), in a shell with no ACMEVAULT_* variable; the Local testing commands run against the
session's stack (which the session starts and stops itself, so `local up` and `local down` are left
out); every verb and flag in the Command line block exists, and every verb is in it.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from acmevault_cli.commands.cert import SPEC_OPTIONS
from acmevault_cli.parser import build_parser

from tests.integration.test_cli_errors import verbs

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BASH = shutil.which("bash") or "/bin/bash"


def section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def blocks(text: str) -> list[str]:
    return re.findall(r"```(?:sh)?\n(.*?)```", text, flags=re.S)


def commands(text: str) -> list[str]:
    """The acmevault command lines of the section's code blocks, without trailing comments."""
    found = []
    for block in blocks(text):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("acmevault ") or line.startswith('eval "$(acmevault'):
                found.append(line)
    return found


def shell(stack, line: str, stdin: str = "", ambient: bool = False) -> subprocess.CompletedProcess[str]:
    """``line`` in bash with `acmevault` on PATH; the stack's AWS settings and, when ``ambient``, its
    exported ACMEVAULT_* variables (as after `eval "$(acmevault local up)"`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACMEVAULT_")}
    env.update({k: v for k, v in stack.env.items() if ambient or not k.startswith("ACMEVAULT_")})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        [BASH, "-c", line], input=stdin, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_deploy_sections_commands_work_on_a_stack_named_like_sam_deploy_names_it(stack, unique):
    lines = commands(section("Deploy"))
    role = "arn:aws:iam::123456789012:role/team-a-deploy"
    lines = [line.replace("<your team's role ARN>", role) for line in lines]
    assert [shlex.split(line)[:5] for line in lines] == [
        ["acmevault", "--stack", "acmevault", "directory", "put"],
        ["acmevault", "--stack", "acmevault", "directory", "policy"],
        ["acmevault", "--stack", "acmevault", "cert", "put"],
        ["acmevault", "--stack", "acmevault", "cert", "issue"],
        ["acmevault", "--stack", "acmevault", "cert", "list"],
    ]
    local = {
        "--stack acmevault ": "--stack acmevault-local ",
        "https://acme.digicert.com/v2/acme/directory/": stack.directory_url,
        "<KID>": "kid-1",
        "digicert-ov": f"readme-{unique}",
        "www.example.com": f"www.readme-{unique}.example.com",
        " example.com": f" readme-{unique}.example.com",
        " web": f" web-{unique}",
    }
    for line in lines:
        for readme, here in local.items():
            line = line.replace(readme, here)
        result = shell(stack, line, stdin=stack.hmac())
        assert result.returncode == 0, (line, result.stderr)
        assert stack.hmac() not in result.stdout + result.stderr
    assert re.search(rf"^web-{unique}\s.*\sissued\s+(89|90)\s", result.stdout, flags=re.M), result.stdout


def test_the_local_testing_sections_commands_work(stack, cli, directory):
    # events/issue-sqs.json asks for the certificate "web", as `make demo` defines it
    assert cli("cert", "put", "web", "-d", "www.example.com", "-d", "example.com", "--directory", directory).code == 0
    lines = commands(section("Local testing, SAM-style"))
    assert lines[0] == 'eval "$(acmevault local up)"' and "acmevault local down" in lines
    for line in lines:
        if line.startswith(("eval", "acmevault local down", "acmevault directory put demo")):
            continue  # the session's stack is up already and stops itself; the Docker walk-through is not run
        result = shell(stack, line, ambient=True)
        assert result.returncode == 0, (line, result.stdout[-2000:], result.stderr[-2000:])


def usage_lines() -> list[str]:
    [block] = blocks(section("Command line"))
    return [line for line in block.splitlines() if line.startswith("acmevault ") or line.startswith("   ")]


def test_every_verb_is_in_the_command_line_section_and_every_verb_there_exists():
    documented = set()
    for line in usage_lines():
        words = re.sub(r"\s+#.*$", "", line).split()
        if len(words) < 2 or words[0] != "acmevault" or words[1].startswith(("[", "-")):
            continue
        command, rest = words[1], words[2:]
        if not rest or rest[0].startswith("-"):
            documented.add((command,))  # "acmevault renew --due"
            continue
        # "cert show NAME [--json] | delete NAME": each alternative after a bar is a verb of the same command
        alternatives = [rest[0], *(rest[i + 1] for i, word in enumerate(rest[:-1]) if word == "|")]
        documented.update((command, a) for a in alternatives if not a.startswith(("-", "[")))
    assert documented == verbs()


def options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of the parser and of its sub-commands, all the way down."""
    found = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action.choices, dict):
            for sub in action.choices.values():
                found |= options(sub)
    return found


def test_every_flag_in_the_command_line_section_exists():
    mentioned = {flag for line in usage_lines() for flag in re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", line)}
    assert mentioned <= options(build_parser(every_verb=True)), mentioned - options(build_parser(every_verb=True))
    cert_put = " ".join(line for line in usage_lines() if "cert put" in line or line.startswith("   "))
    for flags, _, _ in SPEC_OPTIONS.values():
        written = [f for f in flags if re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", cert_put)]
        assert written, f"cert put's {flags[-1]} is not in the README"
