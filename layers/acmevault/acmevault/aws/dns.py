"""dns-01 TXT records in Route 53: find the zone, UPSERT, wait for INSYNC, remove."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from ..errors import DnsError
from .clients import client, error_code, translated

TTL = 60


def _fqdn(name: str) -> str:
    return name.rstrip(".").lower() + "."


class Route53Dns:
    def __init__(self) -> None:
        self._zones: list[tuple[str, str]] | None = None  # (zone name with dot, id)

    @property
    def _r53(self) -> Any:
        return client("route53")

    def _public_zones(self) -> list[tuple[str, str]]:
        if self._zones is None:
            zones: list[tuple[str, str]] = []
            with translated("listing Route 53 hosted zones"):
                for page in self._r53.get_paginator("list_hosted_zones").paginate():
                    for zone in page["HostedZones"]:
                        if not zone.get("Config", {}).get("PrivateZone", False):
                            zones.append((_fqdn(zone["Name"]), zone["Id"].rsplit("/", 1)[-1]))
            self._zones = zones
        return self._zones

    def zone_for(self, domain: str, hosted_zone_id: str | None = None) -> str:
        """The given zone, or the public hosted zone with the longest name that contains the domain."""
        if hosted_zone_id:
            return hosted_zone_id
        name = _fqdn(domain.removeprefix("*."))
        matches = [(z, i) for z, i in self._public_zones() if name == z or name.endswith("." + z)]
        if not matches:
            raise DnsError(f"{domain}: no Route 53 hosted zone found for this name (set hosted_zone_id)")
        return max(matches, key=lambda m: len(m[0]))[1]

    def publish(self, records: Iterable[tuple[str, str, str]], deadline: float) -> None:
        """UPSERT (zone id, record name, value) TXT records, one change per zone; wait until INSYNC."""
        changes = [self._change(zone, "UPSERT", names) for zone, names in _grouped(records).items()]
        for change_id, status in changes:
            if status != "INSYNC":
                self._wait_insync(change_id, deadline)

    def remove(self, records: Iterable[tuple[str, str, str]]) -> None:
        for zone, names in _grouped(records).items():
            try:
                self._change(zone, "DELETE", names)
            except DnsError:
                continue  # already gone, or changed by someone else: nothing of ours left to remove

    def _change(self, zone: str, action: str, names: dict[str, list[str]]) -> tuple[str, str]:
        """One change batch for all the records of an order in one zone."""
        batch = {
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
        with translated(f"writing TXT {name} in hosted zone {zone}"):
            try:
                response = self._r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch=batch)
            except ClientError as error:
                if error_code(error) in ("InvalidChangeBatch", "NoSuchHostedZone", "AccessDenied"):
                    raise DnsError(
                        f"{name}: Route 53 refused the {action} in zone {zone}: {error_code(error)}"
                    ) from None
                raise
        return str(response["ChangeInfo"]["Id"]), str(response["ChangeInfo"]["Status"])

    def _wait_insync(self, change_id: str, deadline: float) -> None:
        delay = 0.5  # Route 53 takes seconds; no point asking sooner
        while True:
            if time.monotonic() + delay > deadline:
                raise DnsError(f"Route 53 change {change_id} was not INSYNC in time")
            time.sleep(delay)
            with translated("waiting for Route 53 to apply a change"):
                status = self._r53.get_change(Id=change_id)["ChangeInfo"]["Status"]
            if status == "INSYNC":
                return
            delay = min(delay * 2, 5.0)


def _grouped(records: Iterable[tuple[str, str, str]]) -> dict[str, dict[str, list[str]]]:
    """zone → record name → values (a wildcard and its apex put two values on one name)."""
    grouped: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for zone, name, value in records:
        if value not in grouped[zone][name]:
            grouped[zone][name].append(value)
    return grouped
