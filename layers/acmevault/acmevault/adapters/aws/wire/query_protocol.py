"""The services acmevault calls through AWS's query protocol: STS, SNS and CloudFormation.

An operation is a form-encoded POST (``Action``, ``Version`` and the arguments flattened:
``Tags.member.1.Key``) and the answer is XML, ``<{Action}Response><{Action}Result>``. The client offers
botocore's method names and answers for the operations acmevault calls.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from acmevault.adapters.aws.wire import transport, xml
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.endpoints import resolve
from acmevault.adapters.aws.wire.operations import Operations

# service -> (API version, {method: operation})
SERVICES: dict[str, tuple[str, dict[str, str]]] = {
    "sts": ("2011-06-15", {"assume_role": "AssumeRole", "get_caller_identity": "GetCallerIdentity"}),
    "sns": ("2010-03-31", {"publish": "Publish"}),
    "cloudformation": ("2010-05-15", {"describe_stacks": "DescribeStacks"}),
}


def flatten(arguments: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """botocore's arguments as query parameters: lists as ``.member.N``, maps as ``.entry.N.key/value``."""
    flat: list[tuple[str, str]] = []
    for name, value in arguments.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat += flatten(value, key + ".")
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value, 1):
                if isinstance(item, dict):
                    flat += flatten(item, f"{key}.member.{i}.")
                else:
                    flat.append((f"{key}.member.{i}", str(item)))
        elif isinstance(value, bool):
            flat.append((key, "true" if value else "false"))
        else:
            flat.append((key, str(value)))
    return flat


def parse_error(response: transport.Response) -> tuple[str, str]:
    """The error code and message of a query protocol error answer."""
    code, message = xml.error(response.body)
    return code or str(response.status), message


def _answer(operation: str, body: bytes) -> dict[str, Any]:
    _, root = xml.parse(body)
    result = root.get(f"{operation}Result", {}) if isinstance(root, dict) else {}
    answer: dict[str, Any] = result if isinstance(result, dict) else {}
    if operation == "AssumeRole" and "Credentials" in answer:
        credentials = dict(answer["Credentials"])
        credentials["Expiration"] = xml.timestamp(credentials["Expiration"])
        answer["Credentials"] = credentials
    if operation == "DescribeStacks":
        stacks = xml.listed(answer.get("Stacks"))
        answer["Stacks"] = [
            {**s, "Outputs": xml.listed(s.get("Outputs")), "Parameters": xml.listed(s.get("Parameters"))}
            for s in stacks
        ]
    return answer


class QueryClient(Operations):
    """A client for one query-protocol service in one region."""

    def __init__(self, service: str, region: str, credentials: Credentials | None = None) -> None:
        self._service = service
        self._version, self._operations = SERVICES[service]
        self._endpoint = resolve(service, region)
        self._credentials = credentials

    def call(self, operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call ``operation`` with botocore's arguments; the answer as botocore gives the fields read here."""
        form = [("Action", operation), ("Version", self._version), *flatten(arguments)]
        request = transport.Request(
            operation,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            body=urlencode(form).encode(),
        )
        response = transport.send(self._endpoint, request, parse_error, credentials=self._credentials)
        return _answer(operation, response.body)
