"""Certificate specs and their state in DynamoDB.

Layout: pk="CERT", sk=<name> for each certificate, so listing is one paged query
in name order; certificates with a renewal time also carry due_pk/renew_at for
the due-date index (sharded so no single index partition is hot).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..errors import CertificateNotFound
from ..model import Certificate, CertificateSpec, CertificateState, Status
from .clients import client, error_code, translated

CERT_PK = "CERT"
DUE_INDEX = "due"
DUE_SHARDS = 8

_ser = TypeSerializer()
_de = TypeDeserializer()


def due_shard(name: str) -> str:
    return f"DUE#{zlib.crc32(name.encode()) % DUE_SHARDS}"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: Any) -> datetime | None:
    return None if value in (None, "") else datetime.fromisoformat(str(value))


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _ser.serialize(v) for k, v in values.items() if v is not None}


def _from_item(item: dict[str, Any]) -> Certificate:
    data = {k: _de.deserialize(v) for k, v in item.items()}
    spec = CertificateSpec.parse(
        data["sk"],
        {
            k: data.get(k)
            for k in data
            if k in ("domains", "directory", "key_type", "challenge", "hosted_zone_id", "acm_regions", "profile")
        },
    )
    state = CertificateState(
        status=Status(data.get("status", Status.PENDING.value)),
        serial=data.get("serial"),
        not_before=_dt(data.get("not_before")),
        not_after=_dt(data.get("not_after")),
        renew_at=_dt(data.get("renew_at")),
        acm_arns=dict(data.get("acm_arns") or {}),
        s3_prefix=data.get("s3_prefix"),
        account_url=data.get("account_url"),
        last_error=data.get("last_error"),
        consecutive_failures=int(data.get("consecutive_failures") or 0),
        updated_at=_dt(data.get("updated_at")),
    )
    return Certificate(spec, state)


class CertificateTable:
    def __init__(self, table_name: str, region: str | None = None) -> None:
        self.table_name = table_name
        self._region = region

    @property
    def _ddb(self) -> Any:
        return client("dynamodb", self._region)

    def get(self, name: str) -> Certificate:
        with translated(f"reading certificate {name!r}"):
            response = self._ddb.get_item(
                TableName=self.table_name, Key=_to_item({"pk": CERT_PK, "sk": name}), ConsistentRead=True
            )
        if "Item" not in response:
            raise CertificateNotFound(name)
        return _from_item(response["Item"])

    def put_spec(self, spec: CertificateSpec, now: datetime) -> Certificate:
        """Create the certificate, or change its spec and keep its state."""
        values = {**spec.to_dict(), "updated_at": now.isoformat()}
        names = {f"#{k}": k for k in values}
        sets = [f"#{k} = :{k}" for k in values if values[k] not in (None, [])]
        removes = [f"#{k}" for k in values if values[k] in (None, [])]
        # A new certificate is due at once, so the scheduled sweep issues it even if nobody asks.
        first_time = [
            "#status = if_not_exists(#status, :pending)",
            "#renew_at = if_not_exists(#renew_at, :now)",
            "#due_pk = if_not_exists(#due_pk, :due)",
        ]
        expression = "SET " + ", ".join([*sets, *first_time])
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        attr_values = _to_item({f":{k}": v for k, v in values.items() if v not in (None, [])})
        attr_values.update(
            _to_item({":pending": Status.PENDING.value, ":now": now.isoformat(), ":due": due_shard(spec.name)})
        )
        with translated(f"storing certificate {spec.name!r}"):
            response = self._ddb.update_item(
                TableName=self.table_name,
                Key=_to_item({"pk": CERT_PK, "sk": spec.name}),
                UpdateExpression=expression,
                ExpressionAttributeNames={**names, "#status": "status", "#renew_at": "renew_at", "#due_pk": "due_pk"},
                ExpressionAttributeValues=attr_values,
                ReturnValues="ALL_NEW",
            )
        return _from_item(response["Attributes"])

    def save_state(self, name: str, state: CertificateState) -> None:
        """Replace the state of an existing certificate (the spec is left as it is)."""
        values: dict[str, Any] = {
            "status": state.status.value,
            "serial": state.serial,
            "not_before": _iso(state.not_before),
            "not_after": _iso(state.not_after),
            "renew_at": _iso(state.renew_at),
            "acm_arns": dict(state.acm_arns) or None,
            "s3_prefix": state.s3_prefix,
            "account_url": state.account_url,
            "last_error": state.last_error,
            "consecutive_failures": state.consecutive_failures,
            "updated_at": _iso(state.updated_at),
            "due_pk": due_shard(name) if state.renew_at and state.status != Status.REVOKED else None,
        }
        present = {k: v for k, v in values.items() if v is not None}
        absent = [k for k, v in values.items() if v is None]
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in present)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in absent)
        with translated(f"storing the state of certificate {name!r}"):
            try:
                self._ddb.update_item(
                    TableName=self.table_name,
                    Key=_to_item({"pk": CERT_PK, "sk": name}),
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames={f"#{k}": k for k in values},
                    ExpressionAttributeValues=_to_item({f":{k}": v for k, v in present.items()}),
                )
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    raise CertificateNotFound(name) from None
                raise

    def delete(self, name: str) -> None:
        with translated(f"deleting certificate {name!r}"):
            try:
                self._ddb.delete_item(
                    TableName=self.table_name,
                    Key=_to_item({"pk": CERT_PK, "sk": name}),
                    ConditionExpression="attribute_exists(pk)",
                )
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    raise CertificateNotFound(name) from None
                raise

    def list(self, limit: int = 100, after: str | None = None) -> tuple[list[Certificate], str | None]:
        """One page of certificates in name order, and the name to continue after."""
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": _to_item({":pk": CERT_PK}),
            "Limit": limit,
        }
        if after:
            args["ExclusiveStartKey"] = _to_item({"pk": CERT_PK, "sk": after})
        with translated("listing certificates"):
            response = self._ddb.query(**args)
        last = response.get("LastEvaluatedKey")
        return [_from_item(i) for i in response["Items"]], (_de.deserialize(last["sk"]) if last else None)

    def all(self) -> Iterator[Certificate]:
        after: str | None = None
        while True:
            page, after = self.list(after=after)
            yield from page
            if after is None:
                return

    def due(self, now: datetime) -> Iterator[str]:
        """Names of certificates whose renewal time has come: a query per shard, paged."""
        for shard in range(DUE_SHARDS):
            args: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": "due_pk = :shard AND renew_at <= :now",
                "ExpressionAttributeValues": _to_item({":shard": f"DUE#{shard}", ":now": now.isoformat()}),
                "ProjectionExpression": "sk",
            }
            while True:
                with translated("finding certificates due for renewal"):
                    response = self._ddb.query(**args)
                for item in response["Items"]:
                    yield str(_de.deserialize(item["sk"]))
                if "LastEvaluatedKey" not in response:
                    break
                args["ExclusiveStartKey"] = response["LastEvaluatedKey"]
