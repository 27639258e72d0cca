"""acmevault writes DynamoDB attribute values itself (aws/items.py, so the adapters need no boto3):
every value it may store is written and read back exactly as boto3.dynamodb.types would."""

from decimal import Decimal

import pytest
from acmevault.adapters.aws import items
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

VALUES = [
    None,
    True,
    False,
    0,
    -5,
    10**30,
    Decimal("1.5"),
    Decimal("0.1"),
    "web",
    "",
    b"\x00key",
    bytearray(b"z"),
    {1, 2},
    {"a", "b"},
    {b"a"},
    [1, "a", None, [True]],
    ("t", 1),
    {"regions": {"us-east-1": {"arn": "arn:aws:acm:x", "serial": "0a"}, "failures": [1, {"q": None}]}, "e": {}},
    [],
    {},
]


def _plain(value):
    if isinstance(value, Binary):
        return value.value
    if isinstance(value, set):
        return {_plain(v) for v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_written_and_read_back_as_boto3_does(value):
    written = items.serialize(value)
    assert written == TypeSerializer().serialize(value)
    assert items.deserialize(written) == _plain(TypeDeserializer().deserialize(written))


@pytest.mark.parametrize("value", [1.5, float("nan"), Decimal("Infinity"), Decimal("1e200"), object(), {1.5}, [1.0]])
def test_refused_as_boto3_refuses(value):
    with pytest.raises(Exception) as ours:  # noqa: PT011 - whatever boto3 raises (TypeError, decimal.Overflow)
        items.serialize(value)
    with pytest.raises(Exception) as theirs:  # noqa: PT011
        TypeSerializer().serialize(value)
    assert ours.type is theirs.type
    assert str(ours.value) == str(theirs.value)


def test_a_top_level_float_is_stored_through_its_shortest_decimal_and_none_is_left_out():
    assert items.to_item({"fraction": 0.1, "absent": None, "n": 3}) == {"fraction": {"N": "0.1"}, "n": {"N": "3"}}
