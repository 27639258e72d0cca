"""The issue queue's message: which certificate to issue or renew, and why (a message format, not SQS).

    {"certificate": "<name>", "reason": "renewal" | "<why it was asked for>", "requested_serial": "<hex>" | null}

``reason`` "renewal" is the schedule's (issue only if due); any other reason is a request (issue now).
``requested_serial`` (on requests only) is the serial serving when it was asked for: a message
delivered again after the certificate moved past it does nothing (queues deliver at least once).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from acmevault.domain.errors import ValidationError
from acmevault.domain.validation import validate_name

SCHEDULED = "renewal"  # the reason the sweep gives: only if due
_SERIAL = re.compile(r"\A[0-9a-f]{1,64}\Z", re.ASCII)
_REASON = re.compile(r"\A[ -~]{1,100}\Z", re.ASCII)  # it is logged and shown: one line of plain text


@dataclass(frozen=True)
class IssueMessage:
    """One certificate to issue or renew, and why."""

    certificate: str
    reason: str  # "renewal" (the schedule: only if due) or why it was asked for (on demand: always)
    # on demand: the serial serving when it was asked for (None: never issued); a redelivery after the
    # certificate moved past it does nothing. ``knows_serial`` is False on messages from before it was sent.
    requested_serial: str | None = None
    knows_serial: bool = False

    @property
    def scheduled(self) -> bool:
        """Whether the schedule sent it (issue only if due), rather than a person or a system (issue now)."""
        return self.reason == SCHEDULED

    def body(self) -> str:
        """The message as the queue carries it (what parse_message reads back), requested_serial included."""
        body: dict[str, Any] = {"certificate": self.certificate, "reason": self.reason}
        if self.knows_serial:
            body["requested_serial"] = self.requested_serial
        return json.dumps(body)


def parse_message(body: str) -> IssueMessage:
    """An issue message from the queue; ValidationError names what is wrong."""
    try:
        message = json.loads(body)
    except ValueError:
        raise ValidationError("message", "is not JSON") from None
    if not isinstance(message, dict) or "certificate" not in message:
        raise ValidationError("certificate", "is missing from the message")
    reason = message.get("reason", SCHEDULED)
    if not isinstance(reason, str) or not _REASON.fullmatch(reason):
        raise ValidationError("reason", "must be 1-100 printable ASCII characters")
    requested = message.get("requested_serial")
    if requested is not None and (not isinstance(requested, str) or not _SERIAL.fullmatch(requested)):
        raise ValidationError("requested_serial", "must be a certificate serial in hexadecimal, or null")
    return IssueMessage(
        validate_name(message["certificate"], "certificate"), reason, requested, "requested_serial" in message
    )
