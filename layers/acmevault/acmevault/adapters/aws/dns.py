"""dns-01 TXT records in Route 53: find the zone, UPSERT, wait for INSYNC, remove.

A zone in another AWS account is reached through a role there (``role_arn``, STS AssumeRole);
without one, with the function's own credentials.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from acmevault.adapters.aws.clients import assumed_client, client, error_code, translated
from acmevault.domain.dns import TxtRecord
from acmevault.domain.errors import AwsUnavailable, DnsError

if TYPE_CHECKING:
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_route53.literals import ChangeActionType
    from mypy_boto3_route53.type_defs import ChangeBatchTypeDef

TTL = 60
_DENIED = ("AccessDenied", "AccessDeniedException")


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


def _as(role_arn: str | None) -> str:
    return f" as role {role_arn}" if role_arn else ""


def _denied(error: ClientError, what: str) -> DnsError | None:
    """Access denied, as a DnsError saying what was refused; None for any other error."""
    if error_code(error) not in _DENIED:
        return None
    message = error.response.get("Error", {}).get("Message", "")
    return DnsError(f"{what}: access denied ({error_code(error)}){': ' + message if message else ''}")


class Route53Dns:
    """Dns in Route 53: zones found by name, TXT records written in one change per zone, CAA read."""

    def __init__(self) -> None:
        # Per role, the public zones as (name with dot, id): read once for a certificate's dns-01 round
        # and dropped when its records are removed, so a zone created since (a delegated sub-zone, which
        # must win the longest match) is seen by the next certificate, also in a warm container.
        self._zones: dict[str | None, list[tuple[str, str]]] = {}

    def _r53(self, role_arn: str | None) -> Route53Client:
        if role_arn is None:
            return client("route53")
        with translated(f"assuming role {role_arn} for Route 53"):
            try:
                return assumed_client("route53", role_arn)
            except ClientError as error:
                raise _denied(error, f"cannot assume role {role_arn} to reach its Route 53 zones") or error from None

    def _public_zones(self, role_arn: str | None, fresh: bool = False) -> list[tuple[str, str]]:
        if fresh or role_arn not in self._zones:
            zones: list[tuple[str, str]] = []
            with translated(f"listing Route 53 hosted zones{_as(role_arn)}"):
                try:
                    for page in self._r53(role_arn).get_paginator("list_hosted_zones").paginate():
                        for zone in page["HostedZones"]:
                            if not zone.get("Config", {}).get("PrivateZone", False):
                                zones.append((_fqdn(zone["Name"]), zone["Id"].rsplit("/", 1)[-1]))
                except ClientError as error:
                    raise _denied(error, f"listing Route 53 hosted zones{_as(role_arn)}") or error from None
            self._zones[role_arn] = zones
        return self._zones[role_arn]

    def zone_for(self, domain: str, hosted_zone_id: str | None = None, role_arn: str | None = None) -> str:
        """The given zone, or the public hosted zone with the longest name that contains the domain
        (in the account of ``role_arn`` when given)."""
        if hosted_zone_id:
            return hosted_zone_id
        name = _fqdn(domain.removeprefix("*."))
        cached = role_arn in self._zones
        matches = [(z, i) for z, i in self._public_zones(role_arn) if name == z or name.endswith("." + z)]
        if not matches and cached:  # the zone may have been created since the list was read
            matches = [(z, i) for z, i in self._public_zones(role_arn, True) if name == z or name.endswith("." + z)]
        if not matches:
            where = f" in the account of role {role_arn}" if role_arn else ""
            raise DnsError(f"{domain}: no Route 53 hosted zone found for this name{where} (set hosted_zone_id)")
        return max(matches, key=lambda m: len(m[0]))[1]

    def publish(self, records: Iterable[TxtRecord], deadline: float, role_arn: str | None = None) -> None:
        """UPSERT the TXT records, one change per zone; wait until INSYNC."""
        changes = [self._change(zone, "UPSERT", names, role_arn) for zone, names in _grouped(records).items()]
        for change_id, status in changes:
            if status != "INSYNC":
                self._wait_insync(change_id, deadline, role_arn)

    def remove(self, records: Iterable[TxtRecord], role_arn: str | None = None) -> None:
        """Delete the records, one change per zone; a zone that refuses (already gone, changed by someone
        else) is skipped. The zones are read again for the next round."""
        self._zones.pop(role_arn, None)  # the round is over: the next one reads the zones again
        for zone, names in _grouped(records).items():
            try:
                self._change(zone, "DELETE", names, role_arn)
            except DnsError:
                continue  # already gone, or changed by someone else: nothing of ours left to remove

    def caa_values(self, zone: str, name: str, role_arn: str | None = None) -> list[str]:
        """The CAA values at exactly ``name`` in the zone, as Route 53 writes them ([] when there are none)."""
        wanted = _fqdn(name)
        with translated(f"reading the CAA record of {name} in hosted zone {zone}{_as(role_arn)}"):
            try:
                response = self._r53(role_arn).list_resource_record_sets(
                    HostedZoneId=zone, StartRecordName=wanted, StartRecordType="CAA", MaxItems="1"
                )
            except ClientError as error:
                raise _denied(error, f"reading CAA records in hosted zone {zone}{_as(role_arn)}") or error from None
        for record in response.get("ResourceRecordSets", [])[:1]:
            if _fqdn(record["Name"]) == wanted and record["Type"] == "CAA":
                return [str(r["Value"]) for r in record.get("ResourceRecords", [])]
        return []

    def _change(
        self, zone: str, action: ChangeActionType, names: dict[str, list[str]], role_arn: str | None
    ) -> tuple[str, str]:
        """One change batch for all the records of an order in one zone."""
        batch: ChangeBatchTypeDef = {
            "Comment": "acmevault dns-01",
            "Changes": [
                {
                    "Action": action,
                    "ResourceRecordSet": {
                        "Name": _fqdn(name),
                        "Type": "TXT",
                        "TTL": TTL,
                        "ResourceRecords": [{"Value": f'"{v}"'} for v in values],
                    },
                }
                for name, values in names.items()
            ],
        }
        name = ", ".join(names)
        with translated(f"writing TXT {name} in hosted zone {zone}{_as(role_arn)}"):
            try:
                response = self._r53(role_arn).change_resource_record_sets(HostedZoneId=zone, ChangeBatch=batch)
            except ClientError as error:
                denied = _denied(error, f"{name}: Route 53 hosted zone {zone}{_as(role_arn)}")
                if denied is not None:
                    raise denied from None
                if error_code(error) in ("InvalidChangeBatch", "NoSuchHostedZone"):
                    raise DnsError(
                        f"{name}: Route 53 refused the {action} in zone {zone}{_as(role_arn)}: {error_code(error)}"
                    ) from None
                raise
        return str(response["ChangeInfo"]["Id"]), str(response["ChangeInfo"]["Status"])

    def _wait_insync(self, change_id: str, deadline: float, role_arn: str | None) -> None:
        delay = 0.5  # Route 53 takes seconds; no point asking sooner
        while True:
            if time.monotonic() + delay > deadline:
                # Transient: the order is on the record and the next attempt resumes it.
                raise AwsUnavailable(f"Route 53 change {change_id} was not INSYNC within the time budget")
            time.sleep(delay)
            with translated("waiting for Route 53 to apply a change"):
                status = self._r53(role_arn).get_change(Id=change_id)["ChangeInfo"]["Status"]
            if status == "INSYNC":
                return
            delay = min(delay * 2, 5.0)


def _grouped(records: Iterable[TxtRecord]) -> dict[str, dict[str, list[str]]]:
    """zone → record name → values (a wildcard and its apex put two values on one name)."""
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record.value not in grouped[record.zone][record.name]:
            grouped[record.zone][record.name].append(record.value)
    return grouped
