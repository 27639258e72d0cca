"""botocore's method names on a client that sends each operation the same way (the JSON and query
protocols): ``client.get_item(**arguments)`` is ``client.call("GetItem", arguments)``; and botocore's
paginator, for every client's listings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


Page = dict[str, Any]


class Paginator:
    """botocore's paginator for one listing: ``paginate(**arguments)`` yields each page; ``following`` says
    what the next page's request adds to the arguments (a token, a marker), None after the last page."""

    def __init__(self, call: Callable[..., Page], following: Callable[[Page], dict[str, Any] | None]) -> None:
        self._call, self._following = call, following

    def paginate(self, **arguments: Any) -> Iterator[Page]:
        """Each page, until the last."""
        while True:
            page = self._call(**arguments)
            yield page
            more = self._following(page)
            if more is None:
                return
            arguments = {**arguments, **more}
