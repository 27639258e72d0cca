"""RotateFunction and RenewFunction read their events without Powertools' event data classes (importing them loads
every event source Powertools knows: issue 14, speed). What they read must be what those classes gave them: each
handler is compared here with its former body, which read the same event through SecretsManagerEvent and
EventBridgeEvent (the reference), with the use cases replaced by recorders.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from acmevault.app.sweep import Sweep
from acmevault.domain.errors import ValidationError
from acmevault_cli.local.invoke import FakeContext, functions, resolved_environment
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, SecretsManagerEvent

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


def handler_module(logical_id: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The function's handler module, loaded with the template's environment as a local invoke loads it."""
    definition = functions(TEMPLATE)[logical_id]
    for key, value in resolved_environment(definition, {}).items():
        monkeypatch.setenv(key, value)
    module_name = definition.handler.rsplit(".", 1)[0]
    path = definition.code_dir / f"{module_name.replace('.', '/')}.py"
    spec = importlib.util.spec_from_file_location(f"handler_events_{logical_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Calls(list[tuple[Any, ...]]):
    def recorder(self, name: str, answer: Any) -> Any:
        def record(*args: Any) -> Any:
            self.append((name, *args))
            return answer

        return record


ROTATION = object()  # what rotation() hands the use cases


def rotate_reference(event: Any, calls: Calls) -> Any:
    """functions/rotate/app.py's body as it was, on Powertools' data classes."""
    run_step, revoke_replaced = calls.recorder("run_step", None), calls.recorder("revoke_replaced", ["x"])
    if "Step" in event:
        step = SecretsManagerEvent(event)
        try:
            secret_id, token = step.secret_id, step.client_request_token
        except KeyError as missing:
            raise ValidationError(str(missing.args[0]), "is required") from None
        run_step(secret_id, token, step.step, ROTATION)
        return {"step": step.step, "done": True}
    renewed = EventBridgeEvent(event)
    certificate = renewed.detail.get("certificate", "") if renewed.get("detail") else ""
    return {"revoked": revoke_replaced(str(certificate), ROTATION)}


def outcome(run: Any) -> tuple[Any, ...]:
    try:
        return ("answer", run())
    except Exception as error:  # noqa: BLE001 - whatever either raises is compared
        return ("raised", type(error), str(error))


STEP = {"Step": "createSecret", "SecretId": "arn:secret", "ClientRequestToken": "t-1"}
ROTATE_EVENTS = {
    "a rotation step": STEP,
    "a step without its secret": {k: v for k, v in STEP.items() if k != "SecretId"},
    "a step without its token": {k: v for k, v in STEP.items() if k != "ClientRequestToken"},
    "a step with neither": {"Step": "setSecret"},
    "a certificate renewed": {"detail-type": "Certificate Renewed", "detail": {"certificate": "web"}},
    "a renewal without a certificate": {"detail": {"serial": "01"}},
    "an empty detail": {"detail": {}},
    "a null detail": {"detail": None},
    "no detail": {"source": "aws.events"},
    "a detail that is not an object": {"detail": "web"},
    "a certificate that is not text": {"detail": {"certificate": 12}},
    "an event that is a list": [],
    "an event that is null": None,
}


@pytest.mark.parametrize("event", ROTATE_EVENTS.values(), ids=ROTATE_EVENTS.keys())
def test_the_rotate_function_reads_its_event_as_powertools_did(event, monkeypatch):
    module = handler_module("RotateFunction", monkeypatch)
    ours, reference = Calls(), Calls()
    monkeypatch.setattr(module, "run_step", ours.recorder("run_step", None))
    monkeypatch.setattr(module, "revoke_replaced", ours.recorder("revoke_replaced", ["x"]))
    monkeypatch.setattr(module, "rotation", lambda: ROTATION)
    context = FakeContext("RotateFunction", 256, 60)
    expected = outcome(lambda: rotate_reference(copy.deepcopy(event), reference))
    assert outcome(lambda: module.handler(copy.deepcopy(event), context)) == expected
    assert ours == reference


class RecordingLogger:
    def __init__(self) -> None:
        self.lines: list[tuple[str, Any]] = []

    def info(self, message: str, extra: Any = None) -> None:
        self.lines.append((message, extra))


RENEW_EVENTS = {
    "the schedule": {"resources": ["arn:aws:events:us-east-1:123456789012:rule/r"], "time": "2026-12-01T00:00:00Z"},
    "typed in by hand": {},
    "without a time": {"resources": []},
    "an event that is a list": [],
}


@pytest.mark.parametrize("event", RENEW_EVENTS.values(), ids=RENEW_EVENTS.keys())
def test_the_renew_function_reads_its_event_as_powertools_did(event, monkeypatch):
    module = handler_module("RenewFunction", monkeypatch)
    swept: list[Any] = []
    logged = RecordingLogger()
    monkeypatch.setattr(module, "logger", logged)  # the body's lines; the decorator keeps Powertools' own
    monkeypatch.setattr(module, "sweep", lambda *args: swept.append(args) or Sweep(0, []))
    monkeypatch.setattr(module, "_services", lambda: None)
    monkeypatch.setattr(module, "queue", lambda: None)
    result = outcome(lambda: module.handler(copy.deepcopy(event), FakeContext("RenewFunction", 256, 60)))
    reference = outcome(lambda: EventBridgeEvent(copy.deepcopy(event)).get("resources"))
    if reference[0] == "raised":  # Powertools' data class could not read it: neither can the handler
        assert result == reference
        assert not swept
        return
    wrapped = EventBridgeEvent(copy.deepcopy(event))
    assert result == ("answer", {"queued": 0, "expiring": []})
    read = {"rule": wrapped.get("resources"), "scheduled_at": wrapped.get("time")}
    assert logged.lines == [("sweep scheduled", read)]
    assert len(swept) == 1
