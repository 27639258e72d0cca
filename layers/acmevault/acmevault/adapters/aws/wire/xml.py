"""AWS's XML answers as plain values, for the query and REST-XML services (STS, SNS, CloudFormation,
Route 53, S3).

An element with child elements becomes a dict by tag (namespaces dropped); one whose children are all
``member`` (the query protocol's lists) a list; a tag that repeats under one parent (Route 53's
``HostedZone``, S3's ``Version``) a list of them; a leaf its text. Which fields are numbers, booleans
or times, and which wrappers are lists, is for the client of each operation to say: the XML does not.

Trust: the XML is AWS's answer over TLS (or the local stack's). ElementTree never fetches external
entities, and the expat Python ships refuses entity expansion attacks; botocore parses it the same way.
"""

from __future__ import annotations

import http.client
import xml.etree.ElementTree as ElementTree
from collections import Counter
from datetime import datetime
from typing import Any


def _tag(element: ElementTree.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def value(element: ElementTree.Element) -> Any:
    """One element as a dict, a list or its text ("" when empty)."""
    children = list(element)
    if not children:
        return element.text or ""
    if all(_tag(c) == "member" for c in children):
        return [value(c) for c in children]
    counts = Counter(_tag(c) for c in children)
    result: dict[str, Any] = {}
    for child in children:
        tag = _tag(child)
        if counts[tag] > 1:
            result.setdefault(tag, []).append(value(child))
        else:
            result[tag] = value(child)
    return result


def parse(body: bytes) -> tuple[str, Any]:
    """The root element's tag and value of an XML document."""
    root = ElementTree.fromstring(body)  # noqa: S314 - see the module's note on trust
    return _tag(root), value(root)


def listed(found: Any) -> list[Any]:
    """A wrapper that may hold one item or many (or none) as a list: XML cannot tell one from a list."""
    if found in (None, ""):
        return []
    return found if isinstance(found, list) else [found]


def timestamp(text: str) -> datetime:
    """An ISO 8601 time as AWS writes it (``2026-12-01T20:45:07.000Z``), aware."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def error(body: bytes) -> tuple[str, str]:
    """The code and message of an XML error answer (``<Error>`` anywhere in it); ("", "") if none."""
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - see the module's note on trust
    except ElementTree.ParseError:
        return "", ""
    found = root if _tag(root) == "Error" else next((e for e in root.iter() if _tag(e) == "Error"), None)
    if found is None:
        return "", ""
    fields = {_tag(c): c.text or "" for c in found}
    return fields.get("Code", ""), fields.get("Message", "")


def rest_error(status: int, body: bytes) -> tuple[str, str]:
    """The code and message of a REST-XML error answer (Route 53's ``ErrorResponse``, S3's ``Error``); one
    without an error document (a HEAD's, a proxy's) is its status and the status's name, as botocore reads it."""
    code, message = error(body)
    return (code, message) if code else (str(status), http.client.responses.get(status, ""))
