"""Directory status, rotations, audit history and revocations waiting for replacements, in the certificate table.

New item types beside the certificates (whose layout is untouched), none holding a secret:

    pk="DIR",              sk=<directory>    status (active | lost), who changed it and when, the
                                             secret version the last rotation made current, and
                                             the rotation in progress or last finished (a map)
    pk="DIRHIST#<dir>",    sk=<ISO time>#<r> one audit entry: who, when, what, outcome
    pk="DIRREV#<dir>",     sk=<certificate>  a certificate of a replaced account, to revoke once its
                                             replacement is in ACM and S3
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from acmevault.adapters.aws.clients import client, error_code, translated
from acmevault.adapters.aws.items import deserialize, iso, parse_time, to_item
from acmevault.domain.directory import (
    DirectoryState,
    DirectoryStatus,
    Rotation,
    RotationKind,
    RotationOutcome,
    RotationSource,
    RotationStep,
    SupersededCertificate,
)
from acmevault.domain.errors import ConflictError
from acmevault.domain.policy import DirectoryPolicy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import QueryInputTypeDef

DIR_PK = "DIR"
HISTORY_PK = "DIRHIST#"  # + directory name
REVOCATION_PK = "DIRREV#"  # + directory name


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    def unwrap(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == int(value) else float(value)
        if isinstance(value, dict):
            return {k: unwrap(v) for k, v in value.items()}
        if isinstance(value, (list, set)):
            return [unwrap(v) for v in value]
        return value

    return {k: unwrap(deserialize(v)) for k, v in item.items()}


def rotation_to_map(rotation: Rotation) -> dict[str, Any]:
    """The rotation as the DIR item's ``rotation`` map holds it (states as their values; None left out)."""
    values = {
        "token": rotation.token,
        "kind": rotation.kind.value,
        "actor": rotation.actor,
        "started_at": iso(rotation.started_at),
        "previous_version": rotation.previous_version,
        "previous_account_url": rotation.previous_account_url,
        "source": rotation.source.value,
        "directory_url": rotation.directory_url,
        "account_url": rotation.account_url,
        "revoke_previous": rotation.revoke_previous,
        "certcentral_key_id": rotation.certcentral_key_id,
        "previous_certcentral_key_id": rotation.previous_certcentral_key_id,
        "done": [step.value for step in rotation.done],
        "finished_at": iso(rotation.finished_at),
        "outcome": rotation.outcome.value if rotation.outcome else None,
    }
    return {k: v for k, v in values.items() if v is not None}


def rotation_from_map(data: dict[str, Any]) -> Rotation:
    """The rotation a DIR item's ``rotation`` map holds, including those written before ``source`` existed."""
    started = parse_time(data.get("started_at"))
    assert started is not None
    return Rotation(
        token=str(data["token"]),
        kind=RotationKind(data["kind"]),
        actor=str(data.get("actor", "")),
        started_at=started,
        previous_version=str(data["previous_version"]),
        previous_account_url=data.get("previous_account_url"),
        source=RotationSource(data.get("source", RotationSource.OPERATOR.value)),
        directory_url=data.get("directory_url"),
        account_url=data.get("account_url"),
        revoke_previous=bool(data.get("revoke_previous", False)),
        certcentral_key_id=data.get("certcentral_key_id"),
        previous_certcentral_key_id=data.get("previous_certcentral_key_id"),
        done=tuple(RotationStep(step) for step in data.get("done") or ()),
        finished_at=parse_time(data.get("finished_at")),
        outcome=RotationOutcome(data["outcome"]) if data.get("outcome") else None,
    )


_STATE_ATTRIBUTES = ("status", "changed_at", "changed_by", "reason", "generation", "certcentral_key_id")


def _state(data: dict[str, Any]) -> DirectoryState:
    return DirectoryState(
        status=DirectoryStatus(data.get("status", DirectoryStatus.ACTIVE.value)),
        changed_at=parse_time(data.get("changed_at")),
        changed_by=data.get("changed_by"),
        reason=data.get("reason"),
        generation=data.get("generation"),
        certcentral_key_id=data.get("certcentral_key_id"),
    )


def _policy(data: dict[str, Any]) -> DirectoryPolicy | None:
    policy = data.get("policy")
    return None if policy is None else DirectoryPolicy.parse(policy)


class DynamoDirectoryRecords:
    """DirectoryRecords in the certificate table (DynamoDB): status, policy, rotation, history, revocations."""

    def __init__(self, table_name: str, region: str | None = None) -> None:
        self.table_name = table_name
        self._region = region

    @property
    def _ddb(self) -> DynamoDBClient:
        return client("dynamodb", self._region)

    # -- status and policy: read on every issuance, so one small consistent GetItem -----------

    def state(self, name: str) -> DirectoryState:
        """The directory's state, one small consistent GetItem; active when none."""
        return _state(self._read(name, _STATE_ATTRIBUTES, f"reading the status of directory {name!r}"))

    def state_and_policy(self, name: str) -> tuple[DirectoryState, DirectoryPolicy | None]:
        """The directory's state and its policy, one small consistent GetItem of both (read on every issuance)."""
        action = f"reading the status and policy of directory {name!r}"
        data = self._read(name, (*_STATE_ATTRIBUTES, "policy"), action)
        return _state(data), _policy(data)

    def _read(self, name: str, attributes: tuple[str, ...], action: str) -> dict[str, Any]:
        """Some attributes of the directory's DIR item, one consistent GetItem (nothing when there is none)."""
        with translated(action):
            response = self._ddb.get_item(
                TableName=self.table_name,
                Key=to_item({"pk": DIR_PK, "sk": name}),
                ConsistentRead=True,
                ProjectionExpression=", ".join(f"#{a}" for a in attributes),
                ExpressionAttributeNames={f"#{a}": a for a in attributes},
            )
        return _plain(response.get("Item", {}))

    def set_state(self, name: str, state: DirectoryState) -> None:
        """Replace the directory's state (an unset field is removed from the item)."""
        values = {
            "status": state.status.value,
            "changed_at": iso(state.changed_at),
            "changed_by": state.changed_by,
            "reason": state.reason,
            "generation": state.generation,
            "certcentral_key_id": state.certcentral_key_id,
        }
        present = {k: v for k, v in values.items() if v is not None}
        absent = [k for k, v in values.items() if v is None]
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in present)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in absent)
        with translated(f"storing the status of directory {name!r}"):
            self._ddb.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": DIR_PK, "sk": name}),
                UpdateExpression=expression,
                ExpressionAttributeNames={f"#{k}": k for k in values},
                ExpressionAttributeValues=to_item({f":{k}": v for k, v in present.items()}),
            )

    # -- access policy ------------------------------------------------------------------------

    def policy(self, name: str) -> DirectoryPolicy | None:
        """The directory's policy; None when it has none (then only admins may use it)."""
        return _policy(self._read(name, ("policy",), f"reading the policy of directory {name!r}"))

    def set_policy(self, name: str, policy: DirectoryPolicy) -> None:
        """Replace the whole policy (the directory's other attributes are left as they are)."""
        with translated(f"storing the policy of directory {name!r}"):
            self._ddb.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": DIR_PK, "sk": name}),
                UpdateExpression="SET #p = :p",
                ExpressionAttributeNames={"#p": "policy"},
                ExpressionAttributeValues=to_item({":p": policy.to_dict()}),
            )

    # -- the rotation in progress (or the last one) -------------------------------------------

    def rotation(self, name: str) -> Rotation | None:
        """The rotation in progress or the last one finished; None when the directory was never rotated."""
        with translated(f"reading the rotation of directory {name!r}"):
            response = self._ddb.get_item(
                TableName=self.table_name,
                Key=to_item({"pk": DIR_PK, "sk": name}),
                ConsistentRead=True,
                ProjectionExpression="rotation",
            )
        data = _plain(response.get("Item", {})).get("rotation")
        return rotation_from_map(data) if data else None

    def save_rotation(self, name: str, rotation: Rotation) -> None:
        """Store the rotation; refused (ConflictError) while another, unfinished one is recorded."""
        with translated(f"storing the rotation of directory {name!r}"):
            try:
                self._ddb.update_item(
                    TableName=self.table_name,
                    Key=to_item({"pk": DIR_PK, "sk": name}),
                    UpdateExpression="SET #r = :r",
                    ConditionExpression=(
                        "attribute_not_exists(#r) OR #r.#token = :token OR attribute_exists(#r.finished_at)"
                    ),
                    ExpressionAttributeNames={"#r": "rotation", "#token": "token"},
                    ExpressionAttributeValues=to_item({":r": rotation_to_map(rotation), ":token": rotation.token}),
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                raise ConflictError(
                    f"another rotation of directory {name!r} is in progress; run the same rotation again to resume it"
                ) from None

    # -- audit history ------------------------------------------------------------------------

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        """Append an audit entry (who, when, what, outcome; never a secret)."""
        at = str(entry.get("at") or datetime.now(UTC).isoformat())
        item = {**entry, "pk": HISTORY_PK + name, "sk": f"{at}#{secrets.token_hex(4)}", "at": at}
        with translated(f"recording the history of directory {name!r}"):
            self._ddb.put_item(TableName=self.table_name, Item=to_item(item))

    def history(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """The newest ``limit`` entries, newest first."""
        with translated(f"reading the history of directory {name!r}"):
            response = self._ddb.query(
                TableName=self.table_name,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues=to_item({":pk": HISTORY_PK + name}),
                ScanIndexForward=False,
                Limit=limit,
            )
        return [{k: v for k, v in _plain(i).items() if k not in ("pk", "sk")} for i in response["Items"]]

    # -- certificates of a replaced account, revoked once their replacements are served -----

    def add_revocation(self, name: str, entry: SupersededCertificate) -> None:
        """Remember a certificate to revoke later; an entry already there (a resumed rotation) is kept."""
        item = {**entry.to_dict(), "pk": REVOCATION_PK + name, "sk": entry.certificate}
        with translated(f"recording a revocation for directory {name!r}"):
            try:
                self._ddb.put_item(
                    TableName=self.table_name, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise

    def revocations(self, name: str, certificate: str | None = None) -> list[SupersededCertificate]:
        """The revocation entries of a directory (or of one certificate)."""
        condition = "pk = :pk" + (" AND sk = :sk" if certificate else "")
        values = {":pk": REVOCATION_PK + name, ":sk": certificate}
        entries: list[SupersededCertificate] = []
        args: QueryInputTypeDef = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
            "ConsistentRead": True,
        }
        while True:
            with translated(f"reading the revocations of directory {name!r}"):
                response = self._ddb.query(**args)
            for item in response["Items"]:
                data = _plain(item)
                entries.append(SupersededCertificate.from_dict(data["sk"], data))
            if "LastEvaluatedKey" not in response:
                return entries
            args["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def settle_revocation(self, name: str, entry: SupersededCertificate) -> None:
        """Mark an entry revoked (or given up), with when and why."""
        stored = entry.to_dict()
        values = {k: stored[k] for k in ("state", "revoked_at", "error") if k in stored}
        with translated(f"updating a revocation for directory {name!r}"):
            self._ddb.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": REVOCATION_PK + name, "sk": entry.certificate}),
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
                ExpressionAttributeNames={f"#{k}": k for k in values},
                ExpressionAttributeValues=to_item({f":{k}": v for k, v in values.items()}),
            )
