"""Certificate specs and their state in DynamoDB.

Layout: pk="CERT", sk=<name> for each certificate, so listing is one paged query
in name order. Certificates the sweep must look at carry due_pk (a shard) and
due_at for the "due" index, and alert_at for the "alert" index, so the sweep reads
what is due, never the whole inventory. A lease (lease_owner, lease_until) on the
item makes sure one worker at a time orders for a certificate. History entries (an
audit trail without secrets) are items pk="HIST#<name>", sk=<ISO time>#<random>.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from acmevault.adapters.aws.clients import client, error_code, translated
from acmevault.adapters.aws.items import deserialize as _deserialize
from acmevault.adapters.aws.items import iso as _iso
from acmevault.adapters.aws.items import parse_time as _dt
from acmevault.adapters.aws.items import to_item as _to_item
from acmevault.domain.certificate import (
    SPEC_FIELDS,
    CatchUp,
    Certificate,
    CertificateSpec,
    CertificateState,
    KeyType,
    PendingOrder,
    RegionState,
    RegionStatus,
    Status,
)
from acmevault.domain.errors import CertificateNotFound, LeaseHeld, LeaseLost, SpecChanged

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

CERT_PK = "CERT"
DUE_INDEX = "due"
ALERT_INDEX = "alert"
DUE_SHARDS = 8
HISTORY_PK = "HIST#"  # + name; sk = ISO time of the entry


def due_shard(name: str) -> str:
    """The shard of the due and alert indexes a certificate is in (spreads the sweep's reads)."""
    return f"DUE#{zlib.crc32(name.encode()) % DUE_SHARDS}"


def _from_item(item: dict[str, Any]) -> Certificate:
    data = {k: _deserialize(v) for k, v in item.items()}
    spec = CertificateSpec.parse(
        data["sk"],
        {k: float(v) if isinstance(v, Decimal) else v for k, v in data.items() if k in SPEC_FIELDS},
    )
    pending = None
    if data.get("pending_order_url"):
        domains = data.get("pending_domains")
        key_type = data.get("pending_key_type")
        pending = PendingOrder(
            order_url=data["pending_order_url"],
            account_url=data["pending_account_url"],
            encrypted_key=bytes(data["pending_key"]),
            fullchain=data.get("pending_fullchain"),
            domains=tuple(domains) if domains is not None else None,
            key_type=KeyType(key_type) if key_type else None,
            directory=data.get("pending_directory"),
        )
    catch_up = None
    if data.get("catch_up_fullchain") and data.get("catch_up_key"):
        catch_up = CatchUp(fullchain=data["catch_up_fullchain"], encrypted_key=bytes(data["catch_up_key"]))
    state = CertificateState(
        status=Status(data.get("status", Status.PENDING.value)),
        serial=data.get("serial"),
        not_before=_dt(data.get("not_before")),
        not_after=_dt(data.get("not_after")),
        renew_at=_dt(data.get("renew_at")),
        regions=_regions(data),
        s3_prefix=data.get("s3_prefix"),
        account_url=data.get("account_url"),
        last_error=data.get("last_error"),
        consecutive_failures=int(data.get("consecutive_failures") or 0),
        updated_at=_dt(data.get("updated_at")),
        ari_check_at=_dt(data.get("ari_check_at")),
        retry_at=_dt(data.get("retry_at")),
        alert_at=_dt(data.get("alert_at")),
        pending=pending,
        certificate_pem=data.get("certificate_pem"),
        catch_up=catch_up,
        lease_until=_dt(data.get("lease_until")),
        awaiting_since=_dt(data.get("awaiting_since")),
        awaiting_alerted_at=_dt(data.get("awaiting_alerted_at")),
        issuer_directory_url=data.get("issuer_directory_url"),
        warnings=tuple(data.get("warnings") or ()),
    )
    return Certificate(spec, state)


def _regions(data: dict[str, Any]) -> dict[str, RegionState]:
    """Per-region state; an item written before regions had one (``acm_arns`` only) reads as all served."""
    if "regions" in data:
        return {
            region: RegionState(
                arn=r.get("arn"), serial=r.get("serial"), status=RegionStatus(r["status"]), error=r.get("error")
            )
            for region, r in data["regions"].items()
        }
    return {
        region: RegionState(arn=arn, serial=data.get("serial")) for region, arn in (data.get("acm_arns") or {}).items()
    }


def _region_items(regions: Mapping[str, RegionState]) -> dict[str, Any] | None:
    return {region: {k: v for k, v in r.to_dict().items() if v is not None} for region, r in regions.items()} or None


class CertificateTable:
    """Certificates in DynamoDB: one item per certificate, history beside it, sparse indexes for the sweep."""

    def __init__(self, table_name: str, region: str | None = None) -> None:
        self.table_name = table_name
        self._region = region

    @property
    def _ddb(self) -> DynamoDBClient:
        return client("dynamodb", self._region)

    def get(self, name: str) -> Certificate:
        """The certificate, one consistent read; CertificateNotFound when it is not defined."""
        with translated(f"reading certificate {name!r}"):
            response = self._ddb.get_item(
                TableName=self.table_name, Key=_to_item({"pk": CERT_PK, "sk": name}), ConsistentRead=True
            )
        if "Item" not in response:
            raise CertificateNotFound(name)
        return _from_item(response["Item"])

    def put_spec(self, spec: CertificateSpec, now: datetime) -> Certificate:
        """Create the certificate, or change its spec and keep its state."""
        values = {**spec.to_dict(), "spec_digest": spec.digest, "updated_at": now.isoformat()}
        names = {f"#{k}": k for k in values}
        sets = [f"#{k} = :{k}" for k in values if values[k] not in (None, [])]
        removes = [f"#{k}" for k in values if values[k] in (None, [])]
        # A new certificate is due at once, so the scheduled sweep issues it even if nobody asks.
        first_time = [
            "#status = if_not_exists(#status, :pending)",
            "#renew_at = if_not_exists(#renew_at, :now)",
            "#due_at = if_not_exists(#due_at, :now)",
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
                ExpressionAttributeNames={
                    **names,
                    "#status": "status",
                    "#renew_at": "renew_at",
                    "#due_at": "due_at",
                    "#due_pk": "due_pk",
                },
                ExpressionAttributeValues=attr_values,
                ReturnValues="ALL_NEW",
            )
        return _from_item(response["Attributes"])

    def save_state(
        self, name: str, state: CertificateState, owner: str | None = None, spec_digest: str | None = None
    ) -> None:
        """Replace the state of an existing certificate (the spec is left as it is): see ``_write_state``."""
        self._write_state(name, state, owner, spec_digest, answer=False)

    def save_state_and_get(
        self, name: str, state: CertificateState, owner: str | None = None, spec_digest: str | None = None
    ) -> Certificate:
        """``save_state``, answering the item as that write left it (ReturnValues ALL_NEW: the spec as it is
        at the write, without another read); only where it is read, as an answer makes the write slower
        (about 0.8 ms more on moto)."""
        written = self._write_state(name, state, owner, spec_digest, answer=True)
        assert written is not None
        return written

    def _write_state(
        self, name: str, state: CertificateState, owner: str | None, spec_digest: str | None, *, answer: bool
    ) -> Certificate | None:
        """Replace the state of an existing certificate (the spec is left as it is); with ``answer``, return
        the item as the write left it.

        With ``owner`` the write is fenced by the lease: LeaseLost when another worker holds it now
        (this one's ran out), so a worker that lost its lease never writes over the newer one's state.
        With ``spec_digest`` it is written only for that spec (``CertificateSpec.digest``): SpecChanged
        when the spec was changed since (items stored before digests existed match any).
        """
        pending = state.pending
        values: dict[str, Any] = {
            "status": state.status.value,
            "serial": state.serial,
            "not_before": _iso(state.not_before),
            "not_after": _iso(state.not_after),
            "renew_at": _iso(state.renew_at),
            "regions": _region_items(state.regions),
            "acm_arns": state.acm_arns or None,  # derived from regions; kept for readers of the earlier layout
            "s3_prefix": state.s3_prefix,
            "account_url": state.account_url,
            "last_error": state.last_error,
            "consecutive_failures": state.consecutive_failures,
            "updated_at": _iso(state.updated_at),
            "ari_check_at": _iso(state.ari_check_at),
            "retry_at": _iso(state.retry_at),
            "alert_at": _iso(state.alert_at) if state.status is not Status.REVOKED else None,
            "due_at": _iso(state.due_at),
            "due_pk": due_shard(name),
            "pending_order_url": pending.order_url if pending else None,
            "pending_account_url": pending.account_url if pending else None,
            "pending_key": pending.encrypted_key if pending else None,
            "pending_fullchain": pending.fullchain if pending else None,
            "pending_domains": list(pending.domains) if pending and pending.domains is not None else None,
            "pending_key_type": pending.key_type.value if pending and pending.key_type else None,
            "pending_directory": pending.directory if pending else None,
            "certificate_pem": state.certificate_pem,
            "catch_up_fullchain": state.catch_up.fullchain if state.catch_up else None,
            "catch_up_key": state.catch_up.encrypted_key if state.catch_up else None,
            "awaiting_since": _iso(state.awaiting_since),
            "awaiting_alerted_at": _iso(state.awaiting_alerted_at),
            "issuer_directory_url": state.issuer_directory_url,
            "warnings": list(state.warnings) or None,
        }
        present = {k: v for k, v in values.items() if v is not None}
        absent = [k for k, v in values.items() if v is None]
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in present)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in absent)
        condition = "attribute_exists(pk)"
        names = {f"#{k}": k for k in values}
        if owner is not None:
            condition += " AND #lease_owner = :lease_owner"
            names["#lease_owner"] = "lease_owner"
            present[":lease_owner"] = owner
        if spec_digest is not None:
            condition += " AND (attribute_not_exists(#spec_digest) OR #spec_digest = :spec_digest)"
            names["#spec_digest"] = "spec_digest"
            present[":spec_digest"] = spec_digest
        with translated(f"storing the state of certificate {name!r}"):
            try:
                response = self._ddb.update_item(
                    TableName=self.table_name,
                    Key=_to_item({"pk": CERT_PK, "sk": name}),
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=_to_item(
                        {(k if k.startswith(":") else f":{k}"): v for k, v in present.items()}
                    ),
                    ReturnValues="ALL_NEW" if answer else "NONE",
                )
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    current = self.get(name)  # CertificateNotFound when it is not there at all
                    if spec_digest is not None and current.spec.digest != spec_digest:
                        raise SpecChanged(name) from None
                    raise LeaseLost(name) from None
                raise
        return _from_item(response["Attributes"]) if answer else None

    def mark_due(self, name: str, now: datetime) -> None:
        """Make the certificate due now (its spec changed): the sweep picks it up at its next run.
        CertificateNotFound when it is not defined (deleted meanwhile)."""
        with translated(f"marking certificate {name!r} due"):
            try:
                self._ddb.update_item(
                    TableName=self.table_name,
                    Key=_to_item({"pk": CERT_PK, "sk": name}),
                    UpdateExpression="SET renew_at = :now, due_at = :now, due_pk = :shard",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues=_to_item({":now": now.isoformat(), ":shard": due_shard(name)}),
                )
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    raise CertificateNotFound(name) from None
                raise

    def delete(self, name: str) -> None:
        """Delete the certificate's item (its history stays); CertificateNotFound when it is not defined."""
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
        args: QueryInputTypeDef = {
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
        return [_from_item(i) for i in response["Items"]], (_deserialize(last["sk"]) if last else None)

    def all(self) -> Iterator[Certificate]:
        """Every certificate in name order, a page of 100 at a time."""
        after: str | None = None
        while True:
            page, after = self.list(after=after)
            yield from page
            if after is None:
                return

    def due(self, now: datetime) -> Iterator[str]:
        """Names of certificates whose renewal time has come."""
        return self._names_before(DUE_INDEX, "due_at", now, "finding certificates due for renewal")

    def expiring(self, now: datetime) -> Iterator[str]:
        """Names of certificates past their alert time: close to expiry and still not renewed."""
        return self._names_before(ALERT_INDEX, "alert_at", now, "finding certificates close to expiry")

    def _names_before(self, index: str, sort_key: str, now: datetime, action: str) -> Iterator[str]:
        """A keys-only query per shard of a sparse index, paged: its cost grows with what it finds."""
        for shard in range(DUE_SHARDS):
            args: QueryInputTypeDef = {
                "TableName": self.table_name,
                "IndexName": index,
                "KeyConditionExpression": f"due_pk = :shard AND {sort_key} <= :now",
                "ExpressionAttributeValues": _to_item({":shard": f"DUE#{shard}", ":now": now.isoformat()}),
                "ProjectionExpression": "sk",
            }
            while True:
                with translated(action):
                    response = self._ddb.query(**args)
                for item in response["Items"]:
                    yield str(_deserialize(item["sk"]))
                if "LastEvaluatedKey" not in response:
                    break
                args["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def postpone_alert(self, name: str, until: datetime) -> None:
        """Move the alert time to ``until``; nothing when the certificate has none any more (revoked or deleted
        since it was found expiring): no alert time is written onto it again."""
        with translated(f"postponing the expiry alert of {name!r}"):
            try:
                self._ddb.update_item(
                    TableName=self.table_name,
                    Key=_to_item({"pk": CERT_PK, "sk": name}),
                    UpdateExpression="SET alert_at = :until",
                    ConditionExpression="attribute_exists(alert_at)",
                    ExpressionAttributeValues=_to_item({":until": until.isoformat()}),
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise

    # -- leases ------------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, now: datetime, seconds: float) -> Certificate:
        """Take the certificate's lease, or raise LeaseHeld: one order at a time per certificate; answer the
        certificate as the lease was taken (ReturnValues ALL_NEW: the item the conditional write left, so the
        holder reads nothing after it).

        A lease that has expired (its holder died) can be taken over; the holder itself may renew it.
        """
        with translated(f"taking the lease on {name!r}"):
            try:
                response = self._ddb.update_item(
                    TableName=self.table_name,
                    Key=_to_item({"pk": CERT_PK, "sk": name}),
                    UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                    ConditionExpression=(
                        "attribute_exists(pk) AND (attribute_not_exists(lease_until) "
                        "OR lease_until < :now OR lease_owner = :owner)"
                    ),
                    ExpressionAttributeValues=_to_item(
                        {
                            ":owner": owner,
                            ":now": now.isoformat(),
                            ":until": (now + timedelta(seconds=seconds)).isoformat(),
                        }
                    ),
                    ReturnValues="ALL_NEW",
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                held = self.get(name)  # CertificateNotFound when it is not there at all
                raise LeaseHeld(name, held.state.lease_until) from None
        return _from_item(response["Attributes"])

    def release_lease(self, name: str, owner: str) -> None:
        """Let go of ``owner``'s lease; nothing when it ran out and another worker holds it now."""
        with translated(f"releasing the lease on {name!r}"):
            try:
                self._ddb.update_item(
                    TableName=self.table_name,
                    Key=_to_item({"pk": CERT_PK, "sk": name}),
                    UpdateExpression="REMOVE lease_owner, lease_until",
                    ConditionExpression="lease_owner = :owner",
                    ExpressionAttributeValues=_to_item({":owner": owner}),
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise  # otherwise: it expired and someone else holds it now; theirs to release

    # -- history -----------------------------------------------------------------------------

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        """Append an audit entry (what happened and when; never a secret) to the certificate's history."""
        at = str(entry.get("at") or datetime.now(UTC).isoformat())
        # The suffix keeps two entries written in the same microsecond apart.
        item = {**entry, "pk": HISTORY_PK + name, "sk": f"{at}#{secrets.token_hex(4)}", "at": at}
        with translated(f"recording the history of {name!r}"):
            self._ddb.put_item(TableName=self.table_name, Item=_to_item(item))

    def history(self, name: str, limit: int = 20) -> tuple[dict[str, Any], ...]:
        """The newest ``limit`` history entries, newest first."""
        with translated(f"reading the history of {name!r}"):
            response = self._ddb.query(
                TableName=self.table_name,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=_to_item({":pk": HISTORY_PK + name}),
                ScanIndexForward=False,
                Limit=limit,
            )
        entries = []
        for item in response["Items"]:
            data = {k: _deserialize(v) for k, v in item.items() if k not in ("pk", "sk")}
            entries.append({k: int(v) if isinstance(v, Decimal) and v == int(v) else v for k, v in data.items()})
        return tuple(entries)
