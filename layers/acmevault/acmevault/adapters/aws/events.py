"""EventBridge events (source "acmevault") for people and systems to subscribe to."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from acmevault.adapters.aws.clients import client, translated

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

log = logging.getLogger(__name__)
SOURCE = "acmevault"


class EventBridgeEvents:
    """Events on an EventBridge bus (``default`` unless one is named), source "acmevault"."""

    def __init__(self, bus: str | None = None, region: str | None = None) -> None:
        self._bus = bus or "default"
        self._region = region

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        """Put one event; one the bus did not take (FailedEntryCount) is logged as an error, not raised."""
        entry: PutEventsRequestEntryTypeDef = {
            "Source": SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": self._bus,
        }
        with translated(f"publishing the event {detail_type!r}"):
            response = client("events", self._region).put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            # An event that did not go out must not undo an issued certificate: log it loudly.
            log.error("event not delivered", extra={"detail_type": detail_type, "entries": response.get("Entries")})
