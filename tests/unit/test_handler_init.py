"""What each Lambda handler's init (loading functions/<name>/app.py, as a cold start does) imports, and what it
leaves out (issue 14, speed: bench/coldstart.py measures the time; this holds the reasons in place).

- IssueFunction answers SQS batches with acmevault.entrypoints.sqs: no Powertools batch utility, so no asyncio
  and no Powertools event data classes; cryptography and the issuance, which its first message needs, stay.
- ApiFunction's routes import the use cases that change a certificate when they run: no cryptography and no
  issuance at init (a read-only request never loads them).
- RenewFunction only queues (acmevault.app.sweep): no issuance and no cryptography.
- No handler but the API (whose Powertools event handler imports them all) loads Powertools' event data classes:
  RenewFunction and RotateFunction read their events as those classes do, without importing every event source.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from acmevault_cli.local.invoke import functions, resolved_environment

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# Stand-ins for the stack's references; init reads none of them (the composition root is built at first use).
STACK_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "ACMEVAULT_TABLE": "acmevault-certificates",
    "ACMEVAULT_BUCKET": "acmevault-certificates-123456789012",
    "ACMEVAULT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/acmevault-issue",
}
PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("lambda_handler_module", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert callable(getattr(module, sys.argv[2]))
print(json.dumps(sorted(sys.modules)))
"""
BATCH_UTILITY = "aws_lambda_powertools.utilities.batch"
EVENT_DATA_CLASSES = "aws_lambda_powertools.utilities.data_classes"


def loaded_at_init(logical_id: str) -> set[str]:
    """The modules a fresh interpreter holds after loading the function's handler module."""
    definition = functions(TEMPLATE)[logical_id]
    module, function = definition.handler.rsplit(".", 1)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        **STACK_ENV,
        **resolved_environment(definition, STACK_ENV),
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(definition.code_dir / f"{module.replace('.', '/')}.py"), function],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout.splitlines()[-1]))


def under(modules: set[str], package: str) -> set[str]:
    return {m for m in modules if m == package or m.startswith(package + ".")}


def test_the_issue_worker_loads_no_batch_utility_nor_asyncio_but_what_an_issuance_needs():
    modules = loaded_at_init("IssueFunction")
    assert "acmevault.entrypoints.sqs" in modules  # the probe loaded the handler
    assert not under(modules, BATCH_UTILITY)
    assert not under(modules, EVENT_DATA_CLASSES)
    assert not under(modules, "asyncio")
    # what every message's issuance uses stays in init: the cold start is not moved into the first message
    assert {"acmevault.app.issuance", "cryptography.x509"} <= modules


def test_the_api_loads_no_cryptography_nor_the_issuance():
    modules = loaded_at_init("ApiFunction")
    assert "acmevault.entrypoints.http.certificates" in modules
    assert not under(modules, "cryptography")
    assert not modules & {"acmevault.domain.keys", "acmevault.app.issuance", "acmevault.app.definition"}


def test_the_sweep_loads_no_issuance_nor_cryptography():
    modules = loaded_at_init("RenewFunction")
    assert "acmevault.app.sweep" in modules
    assert not under(modules, "cryptography")
    assert not modules & {"acmevault.app.issuance", "acmevault.app.renewal", "acmevault.domain.keys"}


@pytest.mark.parametrize("logical_id", ["RenewFunction", "RotateFunction"])
def test_no_other_handler_loads_the_batch_utility_nor_the_event_data_classes(logical_id):
    modules = loaded_at_init(logical_id)
    assert "acmevault.entrypoints.runtime" in modules
    assert not under(modules, BATCH_UTILITY)
    assert not under(modules, EVENT_DATA_CLASSES)
