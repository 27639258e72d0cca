"""DynamoDB item conversions shared by the table adapters: one way to store times and numbers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_ser = TypeSerializer()
_de = TypeDeserializer()


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Attribute values for DynamoDB; None is left out, a float is stored through its shortest decimal."""
    return {
        k: _ser.serialize(Decimal(str(v)) if isinstance(v, float) else v) for k, v in values.items() if v is not None
    }


def deserialize(value: Any) -> Any:
    """The Python value of one DynamoDB attribute value (numbers as Decimal)."""
    return _de.deserialize(value)


def iso(value: datetime | None) -> str | None:
    """A time as stored: ISO 8601, or None."""
    return None if value is None else value.isoformat()


def parse_time(value: Any) -> datetime | None:
    """A stored ISO 8601 time; None for a missing or empty one."""
    return None if not value else datetime.fromisoformat(str(value))
