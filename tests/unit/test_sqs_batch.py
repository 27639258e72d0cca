"""IssueFunction's SQS partial batch responses (acmevault.entrypoints.sqs) against Powertools' own, the reference:
``process_partial_response`` with a ``BatchProcessor(EventType.SQS)``, as functions/issue/app.py used them. Each
case runs the same record behaviour through both and compares the answer, or the error raised, and the calls made.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from acmevault.entrypoints.sqs import partial_batch_response
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError, UnexpectedBatchTypeError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_RECORD = json.loads((ROOT / "events/issue-sqs.json").read_text())["Records"][0]
CONTEXT = object()  # what Lambda passes; both must hand the record handler this very object


class Stop(BaseException):
    """Not an Exception: goes up through both at once."""


def record(message_id: str, body: str) -> dict[str, Any]:
    return {**copy.deepcopy(TEMPLATE_RECORD), "messageId": message_id, "body": body}


def act(body: str) -> None:
    """What a record's body asks the record handler to do: succeed, or raise."""
    if body == "ok":
        return
    if body == "stop":
        raise Stop
    if body == "missing":
        raise KeyError("certificate")
    raise RuntimeError(f"failed: {body}")


Outcome = tuple[Any, ...]


def outcome(run: Callable[[], Any]) -> Outcome:
    """The answer, or the error: its type, message and (for a batch error) each record's exception."""
    try:
        return ("answer", run())
    except BatchProcessingError as error:
        children = [(kind, str(value), tb is not None) for kind, value, tb in error.child_exceptions]
        return ("raised", type(error), error.msg, str(error).splitlines()[0], children)
    except (Exception, Stop) as error:  # noqa: BLE001 - whatever either raises is compared
        return ("raised", type(error), str(error))


def both(event: Any) -> tuple[Outcome, list[Any], Outcome, list[Any]]:
    """(Powertools' outcome, its calls, acmevault's outcome, its calls) for the same event."""
    powertools_calls: list[Any] = []
    ours_calls: list[Any] = []

    def powertools_handler(record: Any, lambda_context: Any) -> None:  # as functions/issue/app.py had it
        powertools_calls.append((record.raw_event, lambda_context))
        act(record.body)

    def ours_handler(record: Any, lambda_context: Any) -> None:
        ours_calls.append((record, lambda_context))
        act(record["body"])

    processor = BatchProcessor(event_type=EventType.SQS)
    reference = outcome(lambda: process_partial_response(copy.deepcopy(event), powertools_handler, processor, CONTEXT))
    ours = outcome(lambda: partial_batch_response(copy.deepcopy(event), ours_handler, CONTEXT))
    return reference, powertools_calls, ours, ours_calls


BATCHES = {
    "one that succeeds": [record("a", "ok")],
    "all succeed": [record("a", "ok"), record("b", "ok"), record("c", "ok")],
    "the middle one fails": [record("a", "ok"), record("b", "boom"), record("c", "ok")],
    "two of three fail, in order": [record("a", "missing"), record("b", "ok"), record("c", "boom")],
    "a record without a body fails": [{k: v for k, v in record("a", "ok").items() if k != "body"}, record("b", "ok")],
    "the only one fails": [record("a", "boom")],
    "every one fails": [record("a", "boom"), record("b", "missing"), record("c", "no")],
    "a failed record without a messageId": [
        {k: v for k, v in record("a", "boom").items() if k != "messageId"},
        record("b", "ok"),
    ],
    "a successful record without a messageId": [
        {k: v for k, v in record("a", "ok").items() if k != "messageId"},
        record("b", "boom"),
    ],
    "a record that is not an object": ["not a record", record("b", "ok")],
    "a BaseException goes up at once": [record("a", "boom"), record("b", "stop"), record("c", "ok")],
}


@pytest.mark.parametrize("records", BATCHES.values(), ids=BATCHES.keys())
def test_a_batch_is_answered_as_powertools_answers_it(records):
    reference, reference_calls, ours, ours_calls = both({"Records": records})
    assert ours == reference
    assert ours_calls == reference_calls  # every record, in order, with the context; none after a BaseException
    assert all(context is CONTEXT for _, context in ours_calls)


def test_the_answers_are_the_ones_sqs_expects():
    # the comparison above holds whatever Powertools answers; these pin what that is
    assert both({"Records": BATCHES["all succeed"]})[2] == ("answer", {"batchItemFailures": []})
    assert both({"Records": BATCHES["two of three fail, in order"]})[2] == (
        "answer",
        {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]},
    )
    failed = both({"Records": BATCHES["every one fails"]})[2]
    assert failed[:4] == (
        "raised",
        BatchProcessingError,
        "All records failed processing. 3 individual errors logged separately below.",
        "All records failed processing. 3 individual errors logged separately below.",
    )
    assert [kind for kind, _, _ in failed[4]] == [RuntimeError, KeyError, RuntimeError]


NOT_BATCHES = {
    "no Records": {},
    "empty Records": {"Records": []},
    "Records is not a list": {"Records": {"a": 1}},
    "Records is null": {"Records": None},
    "a list": [record("a", "ok")],
    "null": None,
    "a string": "Records",
}


@pytest.mark.parametrize("event", NOT_BATCHES.values(), ids=NOT_BATCHES.keys())
def test_an_event_that_is_not_a_batch_gets_powertools_own_error(event):
    reference, reference_calls, ours, ours_calls = both(event)
    assert ours == reference
    assert reference[0] == "raised"
    assert ours_calls == reference_calls == []


def test_an_empty_batch_is_powertools_unexpected_batch_type():
    assert both({"Records": []})[2][1] is UnexpectedBatchTypeError


PROBE = """
import json, sys
from acmevault.entrypoints.sqs import partial_batch_response
failed = []
def handler(record, context):
    if record["body"] != "ok":
        raise RuntimeError(record["body"])
answer = partial_batch_response(
    {"Records": [{"messageId": "a", "body": "ok"}, {"messageId": "b", "body": "no"}]}, handler, None
)
print(json.dumps([answer, sorted(m for m in sys.modules if m.startswith("aws_lambda_powertools") or m == "asyncio")]))
"""


def test_a_batch_loads_neither_powertools_batch_utility_nor_asyncio():
    # the reason for acmevault.entrypoints.sqs: a partial failure answered without that import
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True)
    answer, loaded = json.loads(result.stdout.splitlines()[-1])
    assert answer == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert loaded == []
