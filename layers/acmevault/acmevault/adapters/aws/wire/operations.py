"""botocore's method names on a client that sends each operation the same way (the JSON and query
protocols): ``client.get_item(**arguments)`` is ``client.call("GetItem", arguments)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Operations:
    """A client offering botocore's method names for the operations in ``_operations`` (method →
    operation), each sent by ``call``; any other name fails loudly (AttributeError)."""

    _service: str
    _operations: dict[str, str]

    def call(self, operation: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Send ``operation`` with botocore's arguments; botocore's answer."""
        raise NotImplementedError

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        operation = self.__dict__.get("_operations", {}).get(method)
        if operation is None:
            raise AttributeError(f"acmevault's {self.__dict__.get('_service')} client does not offer {method!r}")

        def call(**arguments: Any) -> dict[str, Any]:
            return self.call(operation, arguments)

        call.__name__ = method
        return call
