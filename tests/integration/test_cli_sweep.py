"""`acmevault renew --due` (the scheduled sweep, run here) on a stack of its own, so the sweep sees only
this test's certificates: one renewed, one failing; the summary on stdout, one line on stderr, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from acmevault_cli.local.stack import LocalStack, free_port

from tests.conftest import register_secret


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory):
    local = LocalStack(
        tmp_path_factory.mktemp("sweep"), pebble_port=free_port(), management_port=free_port(), moto_port=free_port()
    )
    env = local.up()
    register_secret(*local.eab_keys().values())
    try:
        yield local, env
    finally:
        local.down()


def acmevault(env: dict[str, str], *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "acmevault_cli.cli", *argv],
        input=stdin,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_sweep_with_a_failure_says_which_in_one_line(own_stack):
    local, env = own_stack
    hmac = local.eab_keys()["kid-1"]
    assert (
        acmevault(
            env, "directory", "put", "d", "--url", local.directory_url, "--eab-kid", "kid-1", stdin=hmac
        ).returncode
        == 0
    )
    assert acmevault(env, "cert", "put", "good", "-d", "good.example.com", "--directory", "d").returncode == 0
    bad = ["cert", "put", "bad", "-d", "www.nozone.test", "--directory", "d", "--challenge", "dns-01"]
    assert acmevault(env, *bad).returncode == 0
    swept = acmevault(env, "renew", "--due", "--workers", "2")
    assert swept.returncode == 1
    assert swept.stdout.splitlines() == ["2 certificates looked at: 1 failed, 1 issued"]
    assert swept.stderr.splitlines() == [
        "acmevault: renew: 1 of 2 failed or are not in every ACM region (bad); 'acmevault cert show NAME' has "
        "each one's error"
    ]
    again = acmevault(env, "renew", "--due")
    assert (again.returncode, again.stdout, again.stderr) == (0, "no certificate is due for renewal\n", "")
