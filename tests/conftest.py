"""Test session: one local stack (real Pebble with EAB required + moto server over HTTP) on free ports.

Every log record and every captured output of every test is scanned for secret
material (the stack's EAB HMAC keys, PEM private keys); a test that leaks fails.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from acmevault_cli.local.stack import LocalStack, free_port

ROOT = Path(__file__).resolve().parent.parent
PRIVATE_KEY_MARKER = "PRIVATE KEY"

# Everything logged during the session, at DEBUG for our code and the acme library.
_RECORDS: list[str] = []
_SECRETS: set[str] = set()


class _Recorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            _RECORDS.append(self.format(record) + " " + repr(record.__dict__))
        except Exception:  # noqa: BLE001 - a recorder must never break the code under test
            _RECORDS.append(repr(record.__dict__))


def register_secret(*values: str) -> None:
    """Secret material made during a test (another Pebble's EAB keys) that must never show either."""
    _SECRETS.update(values)


def find_secrets(text: str, secrets: set[str] | None = None) -> list[str]:
    """What secret material the text contains (described, not quoted)."""
    found = []
    if PRIVATE_KEY_MARKER in text:
        found.append("a PEM private key")
    for secret in secrets if secrets is not None else _SECRETS:
        if secret and secret in text:
            found.append(f"an EAB HMAC key ({len(secret)} characters)")
    return found


@dataclass
class Stack:
    local: LocalStack
    env: dict[str, str]

    @property
    def directory_url(self) -> str:
        return self.local.directory_url

    def hmac(self, kid: str = "kid-1") -> str:
        return self.local.eab_keys()[kid]

    def aws(self, service: str, region: str = "us-east-1") -> Any:
        """The test's own boto3 client on the local stack: state is set up and read back with botocore,
        independently of acmevault's own client (adapters/aws/wire)."""
        return _boto3_client(service, region, os.environ.get("AWS_ENDPOINT_URL", ""))


@functools.cache
def _boto3_client(service: str, region: str, endpoint_url: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region, endpoint_url=endpoint_url or None)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    local = LocalStack(
        tmp_path_factory.mktemp("stack"),
        pebble_port=free_port(),
        management_port=free_port(),
        moto_port=free_port(),
        # Valid authorizations are always reused, so a second order for a name needs no challenge:
        # that is how pre-validated (OV/EV) names look to a client. Nonce rejection stays at 5 %.
        pebble_env={"PEBBLE_AUTHZREUSE": "100"},
    )
    env = local.up()
    saved = dict(os.environ)
    os.environ.update(env)
    _SECRETS.update(local.eab_keys().values())
    handler = _Recorder(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    for name in ("acmevault", "acme"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    _reset_caches()
    try:
        yield Stack(local, env)
    finally:
        root.removeHandler(handler)
        os.environ.clear()
        os.environ.update(saved)
        local.down()


@contextmanager
def second_pebble(
    tmp_path_factory: pytest.TempPathFactory, stack: Stack, label: str, **options: Any
) -> Iterator[LocalStack]:
    """Another local stack (its own Pebble, roots, accounts and serials), trusted beside the session's for
    as long as it runs; its EAB keys are scanned for like the session's."""
    other = LocalStack(
        tmp_path_factory.mktemp(label),
        pebble_port=free_port(),
        management_port=free_port(),
        moto_port=free_port(),
        **options,
    )
    other.up()
    register_secret(*other.eab_keys().values())
    bundle = tmp_path_factory.mktemp("ca") / "both.pem"
    bundle.write_text(stack.local.ca_bundle.read_text() + other.ca_bundle.read_text())
    saved = os.environ["REQUESTS_CA_BUNDLE"]
    os.environ["REQUESTS_CA_BUNDLE"] = str(bundle)
    try:
        yield other
    finally:
        os.environ["REQUESTS_CA_BUNDLE"] = saved
        other.down()


def _reset_caches() -> None:
    from acmevault.adapters.aws import clients
    from acmevault.adapters.aws.wire import transport
    from acmevault.composition import config, services

    config.settings.cache_clear()
    services.services.cache_clear()
    services.queue.cache_clear()
    services.rotation.cache_clear()
    services.idempotency_store.cache_clear()  # holds a DynamoDB client and the table name
    clients.client.cache_clear()
    transport.close_connections()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    sections = {
        "stdout": report.capstdout,
        "stderr": report.capstderr,
        "log": report.caplog,
    }
    leaks = [f"{leak} in {where}" for where, text in sections.items() for leak in find_secrets(text)]
    if leaks:
        report.outcome = "failed"
        report.longrepr = f"secret material in the test's {report.when}: {', '.join(leaks)}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = find_secrets("\n".join(_RECORDS))
    if leaks:
        print(f"\nSECRET LEAK: log records of this session contain {', '.join(leaks)}", file=sys.stderr)
        session.exitstatus = 1


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run the acmevault command in-process, with optional stdin; outputs are leak-checked."""
    from acmevault_cli.cli import main

    def run(*argv: str, stdin: str = "") -> CliResult:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse's own usage errors
            code = int(exit_.code or 0)
        out, err = capsys.readouterr()
        leaks = find_secrets(out + err)
        assert not leaks, f"acmevault {argv[0]} printed {leaks}"
        _RECORDS.append(out + err)
        return CliResult(code, out, err)

    return run


@pytest.fixture
def directory(stack: Stack, cli: Any, unique: str) -> str:
    """A vaulted directory (account registered at Pebble) with a unique name."""
    name = f"dir-{unique}"
    result = cli("directory", "put", name, "--url", stack.directory_url, "--eab-kid", "kid-1", stdin=stack.hmac())
    assert result.code == 0, result.err
    return name


def snapshot(stack: Stack) -> dict[str, Any]:
    """Everything acmevault can change: table items, secret versions, ACM certificates, S3 object versions."""
    ddb = stack.aws("dynamodb")
    items = ddb.scan(TableName=stack.env["ACMEVAULT_TABLE"])["Items"]
    sm = stack.aws("secretsmanager")
    secrets = {s["Name"]: sorted(s.get("SecretVersionsToStages", {})) for s in sm.list_secrets()["SecretList"]}
    acm = stack.aws("acm")
    certificates = sorted(
        c["CertificateArn"]
        for c in acm.list_certificates(
            Includes={"keyTypes": ["EC_prime256v1", "EC_secp384r1", "RSA_2048", "RSA_3072", "RSA_4096"]}
        )["CertificateSummaryList"]
    )
    s3 = stack.aws("s3")
    versions = s3.list_object_versions(Bucket=stack.env["ACMEVAULT_BUCKET"]).get("Versions", [])
    objects = sorted((v["Key"], v["VersionId"]) for v in versions)
    return {"items": sorted(map(repr, items)), "secrets": secrets, "acm": certificates, "s3": objects}


@pytest.fixture
def state(stack: Stack) -> Any:
    return lambda: snapshot(stack)
