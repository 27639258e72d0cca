"""DynamoDB item conversions shared by the table adapters: one way to store times and numbers.

Attribute values are written out here as boto3.dynamodb.types does (numbers in DynamoDB's decimal
context, a set typed by its members, binary read back as bytes), so the adapters need botocore only.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import datetime
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# DynamoDB's numbers: 38 digits, exponents -128..126; anything it would round or refuse is refused here.
DYNAMODB_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """Attribute values for DynamoDB; None is left out, a float is stored through its shortest decimal."""
    return {k: serialize(Decimal(str(v)) if isinstance(v, float) else v) for k, v in values.items() if v is not None}


def serialize(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value ({"S": ...}, {"N": ...}, {"M": ...}, ...)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": value}
    if isinstance(value, Set):
        for kind, test, convert in (("NS", _is_number, _number), ("SS", _is_string, str), ("BS", _is_binary, bytes)):
            if all(test(member) for member in value):
                return {kind: [convert(member) for member in value]}
    if isinstance(value, Mapping):
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def deserialize(value: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value as Python: numbers as Decimal, sets as sets, binary as bytes."""
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind, data = next(iter(value.items()))
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL"):
        return data
    if kind == "N":
        return DYNAMODB_CONTEXT.create_decimal(data)
    if kind == "B":
        return bytes(data)
    if kind == "M":
        return {k: deserialize(v) for k, v in data.items()}
    if kind == "L":
        return [deserialize(v) for v in data]
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {DYNAMODB_CONTEXT.create_decimal(n) for n in data}
    if kind == "BS":
        return {bytes(b) for b in data}
    raise TypeError(f"Dynamodb type {kind} is not supported")


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return isinstance(value, int | Decimal)


def _is_string(value: Any) -> bool:
    return isinstance(value, str)


def _is_binary(value: Any) -> bool:
    return isinstance(value, bytes | bytearray)


def _number(value: int | Decimal) -> str:
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def iso(value: datetime | None) -> str | None:
    """A time as stored: ISO 8601, or None."""
    return None if value is None else value.isoformat()


def parse_time(value: Any) -> datetime | None:
    """A stored ISO 8601 time; None for a missing or empty one."""
    return None if not value else datetime.fromisoformat(str(value))
