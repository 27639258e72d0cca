"""Route 53 through its REST-XML API (2013-04-01): the four operations dns-01 needs.

botocore's method names, arguments and answers for: ``list_hosted_zones`` (and its paginator),
``list_resource_record_sets``, ``change_resource_record_sets`` and ``get_change``. A zone or change id
may be given as botocore accepts it, with its ``/hostedzone/`` or ``/change/`` prefix or without.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from acmevault.adapters.aws.wire import transport, xml
from acmevault.adapters.aws.wire.credentials import Credentials
from acmevault.adapters.aws.wire.endpoints import resolve
from acmevault.adapters.aws.wire.operations import Paginator

API = "/2013-04-01"
NAMESPACE = "https://route53.amazonaws.com/doc/2013-04-01/"


def parse_error(response: transport.Response) -> tuple[str, str]:
    """The error code and message of a Route 53 error answer."""
    return xml.rest_error(response.status, response.body)


def _id(value: str) -> str:
    return quote(value.rsplit("/", 1)[-1], safe="")


def _zone(found: dict[str, Any]) -> dict[str, Any]:
    zone = dict(found)
    config = zone.get("Config")
    if isinstance(config, dict):
        zone["Config"] = {**config, "PrivateZone": config.get("PrivateZone") == "true"}
    if "ResourceRecordSetCount" in zone:
        zone["ResourceRecordSetCount"] = int(zone["ResourceRecordSetCount"])
    return zone


def _record_set(found: dict[str, Any]) -> dict[str, Any]:
    record = dict(found)
    if "TTL" in record:
        record["TTL"] = int(record["TTL"])
    if "ResourceRecords" in record:
        record["ResourceRecords"] = xml.listed(record["ResourceRecords"].get("ResourceRecord"))
    return record


def _change_info(answer: dict[str, Any]) -> dict[str, Any]:
    info = dict(answer["ChangeInfo"])
    if "SubmittedAt" in info:
        info["SubmittedAt"] = xml.timestamp(info["SubmittedAt"])
    return {"ChangeInfo": info}


def _change_batch(batch: dict[str, Any]) -> str:
    changes = []
    for change in batch["Changes"]:
        record = change["ResourceRecordSet"]
        values = "".join(
            f"<ResourceRecord><Value>{escape(str(r['Value']))}</Value></ResourceRecord>"
            for r in record.get("ResourceRecords", [])
        )
        ttl = f"<TTL>{int(record['TTL'])}</TTL>" if "TTL" in record else ""
        changes.append(
            f"<Change><Action>{escape(change['Action'])}</Action><ResourceRecordSet>"
            f"<Name>{escape(record['Name'])}</Name><Type>{escape(record['Type'])}</Type>{ttl}"
            f"<ResourceRecords>{values}</ResourceRecords></ResourceRecordSet></Change>"
        )
    comment = f"<Comment>{escape(batch['Comment'])}</Comment>" if batch.get("Comment") else ""
    return f"<ChangeBatch>{comment}<Changes>{''.join(changes)}</Changes></ChangeBatch>"


class Route53Client:
    """Route 53 (one global endpoint per partition) for the region's partition."""

    def __init__(self, region: str, credentials: Credentials | None = None) -> None:
        self._endpoint = resolve("route53", region)
        self._credentials = credentials

    def _send(self, request: transport.Request) -> dict[str, Any]:
        response = transport.send(self._endpoint, request, parse_error, credentials=self._credentials)
        _, answer = xml.parse(response.body)
        return answer if isinstance(answer, dict) else {}

    def list_hosted_zones(self, Marker: str | None = None, MaxItems: str | None = None) -> dict[str, Any]:  # noqa: N803
        """One page of the account's hosted zones."""
        query = [(k, v) for k, v in (("marker", Marker), ("maxitems", MaxItems)) if v is not None]
        answer = self._send(transport.Request("ListHostedZones", "GET", f"{API}/hostedzone", query))
        return {
            **answer,
            "HostedZones": [_zone(z) for z in xml.listed((answer.get("HostedZones") or {}).get("HostedZone"))],
            "IsTruncated": answer.get("IsTruncated") == "true",
        }

    def get_paginator(self, method: str) -> Paginator:
        """The paginator of ``list_hosted_zones`` (the one listing offered)."""
        if method != "list_hosted_zones":
            raise AttributeError(f"acmevault's route53 client has no paginator {method!r}")
        return Paginator(
            self.list_hosted_zones, lambda page: {"Marker": page["NextMarker"]} if page.get("IsTruncated") else None
        )

    def list_resource_record_sets(
        self,
        HostedZoneId: str,  # noqa: N803
        StartRecordName: str | None = None,  # noqa: N803
        StartRecordType: str | None = None,  # noqa: N803
        MaxItems: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        """The zone's record sets from a name and type on."""
        query = [
            (k, v)
            for k, v in (("name", StartRecordName), ("type", StartRecordType), ("maxitems", MaxItems))
            if v is not None
        ]
        path = f"{API}/hostedzone/{_id(HostedZoneId)}/rrset"
        answer = self._send(transport.Request("ListResourceRecordSets", "GET", path, query))
        sets = xml.listed((answer.get("ResourceRecordSets") or {}).get("ResourceRecordSet"))
        return {
            **answer,
            "ResourceRecordSets": [_record_set(s) for s in sets],
            "IsTruncated": answer.get("IsTruncated") == "true",
        }

    def change_resource_record_sets(self, HostedZoneId: str, ChangeBatch: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        """Apply one change batch; its ChangeInfo (Id, Status)."""
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="{NAMESPACE}">'
            f"{_change_batch(ChangeBatch)}</ChangeResourceRecordSetsRequest>"
        )
        path = f"{API}/hostedzone/{_id(HostedZoneId)}/rrset/"
        request = transport.Request("ChangeResourceRecordSets", "POST", path, (), {}, body.encode())
        return _change_info(self._send(request))

    def get_change(self, Id: str) -> dict[str, Any]:  # noqa: N803
        """A change's ChangeInfo (Status PENDING or INSYNC)."""
        return _change_info(self._send(transport.Request("GetChange", "GET", f"{API}/change/{_id(Id)}")))
