"""Route 53 in memory (``ports.Dns``): public hosted zones, the TXT records written to them, CAA records.

``resolve_txt`` answers as DNS would: from the zone with the longest name containing the record, so a
record written to another zone is not seen. ``unreachable`` makes every call raise AwsUnavailable
(Route 53 throttling or down).
"""

from __future__ import annotations

from collections.abc import Iterable

from acmevault.domain.dns import TxtRecord
from acmevault.domain.errors import AwsUnavailable, DnsError


class FakeDns:
    """Zones by id (``add_zone``); ``records``: the TXT records in place now; ``published``: every one ever written."""

    def __init__(self) -> None:
        self.zones: dict[str, str] = {}  # id → name (no trailing dot)
        self.records: set[TxtRecord] = set()
        self.published: list[TxtRecord] = []
        self.caa: dict[tuple[str, str], list[str]] = {}
        self.unreachable = False

    def add_zone(self, zone_id: str, name: str) -> None:
        """A public hosted zone for ``name``."""
        self.zones[zone_id] = name

    def resolve_txt(self, name: str) -> set[str]:
        """The TXT values a resolver finds at ``name``: from its zone only."""
        try:
            zone = self._zone_of(name)
        except DnsError:
            return set()
        return {r.value for r in self.records if r.zone == zone and r.name == name}

    # -- ports.Dns --------------------------------------------------------------------------------

    def zone_for(self, domain: str, hosted_zone_id: str | None = None, role_arn: str | None = None) -> str:
        self._reach()
        if hosted_zone_id:
            return hosted_zone_id
        return self._zone_of(domain.removeprefix("*."))

    def publish(self, records: Iterable[TxtRecord], deadline: float, role_arn: str | None = None) -> None:
        self._reach()
        for record in records:
            self.records.add(record)
            self.published.append(record)

    def remove(self, records: Iterable[TxtRecord], role_arn: str | None = None) -> None:
        self._reach()
        self.records.difference_update(records)

    def caa_values(self, zone: str, name: str, role_arn: str | None = None) -> list[str]:
        self._reach()
        return list(self.caa.get((zone, name), []))

    def _zone_of(self, name: str) -> str:
        matches = [(z, i) for i, z in self.zones.items() if name == z or name.endswith("." + z)]
        if not matches:
            raise DnsError(f"{name}: no Route 53 hosted zone found for this name (set hosted_zone_id)")
        return max(matches, key=lambda m: len(m[0]))[1]

    def _reach(self) -> None:
        if self.unreachable:
            raise AwsUnavailable("Route 53: throttled")
