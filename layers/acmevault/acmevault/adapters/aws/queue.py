"""The issue queue (SQS): one message per certificate to issue or renew."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acmevault.adapters.aws.clients import client, translated
from acmevault.domain.errors import AwsUnavailable, ValidationError
from acmevault.domain.validation import validate_name

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

_SERIAL = re.compile(r"\A[0-9a-f]{1,64}\Z", re.ASCII)
_REASON = re.compile(r"\A[ -~]{1,100}\Z", re.ASCII)  # it is logged and shown: one line of plain text


@dataclass(frozen=True)
class IssueMessage:
    """One message of the issue queue: a certificate to issue or renew, and why."""

    certificate: str
    reason: str  # "renewal" (the schedule: only if due) or why it was asked for (on demand: always)
    # on demand: the serial serving when it was asked for (None: never issued); a redelivery after the
    # certificate moved past it does nothing. ``knows_serial`` is False on messages from before it was sent.
    requested_serial: str | None = None
    knows_serial: bool = False

    @property
    def scheduled(self) -> bool:
        """Whether the schedule sent it (issue only if due), rather than someone asking (issue now)."""
        return self.reason == "renewal"

    def body(self) -> str:
        """The message as the queue carries it (what parse_message reads back), requested_serial included."""
        serials = {self.certificate: self.requested_serial} if self.knows_serial else None
        return json.dumps(_body(self.certificate, self.reason, serials))


def parse_message(body: str) -> IssueMessage:
    """An issue message from the queue; ValidationError names what is wrong."""
    try:
        message = json.loads(body)
    except ValueError:
        raise ValidationError("message", "is not JSON") from None
    if not isinstance(message, dict) or "certificate" not in message:
        raise ValidationError("certificate", "is missing from the message")
    reason = message.get("reason", "renewal")
    if not isinstance(reason, str) or not _REASON.fullmatch(reason):
        raise ValidationError("reason", "must be 1-100 printable ASCII characters")
    requested = message.get("requested_serial")
    if requested is not None and (not isinstance(requested, str) or not _SERIAL.fullmatch(requested)):
        raise ValidationError("requested_serial", "must be a certificate serial in hexadecimal, or null")
    return IssueMessage(
        validate_name(message["certificate"], "certificate"), reason, requested, "requested_serial" in message
    )


def _body(name: str, reason: str, serials: Mapping[str, str | None] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"certificate": name, "reason": reason}
    if serials is not None:
        body["requested_serial"] = serials.get(name)
    return body


class IssueQueue:
    """IssueRequests on an SQS queue: one message per certificate."""

    def __init__(self, queue_url: str, region: str | None = None) -> None:
        self.queue_url = queue_url
        self._region = region

    def send(self, names: Iterable[str], reason: str, serials: Mapping[str, str | None] | None = None) -> int:
        """Queue the names, ten to a batch; return how many were sent. With ``serials`` each message carries
        its certificate's serial at the time of asking (``requested_serial``): at-least-once delivery safe."""
        sqs = client("sqs", self._region)
        batch: list[str] = []
        sent = 0
        for name in [*names, None]:
            if name is not None:
                batch.append(name)
            if batch and (len(batch) == 10 or name is None):
                entries: list[SendMessageBatchRequestEntryTypeDef] = [
                    {"Id": str(i), "MessageBody": json.dumps(_body(n, reason, serials))} for i, n in enumerate(batch)
                ]
                with translated("queueing certificates for issuance"):
                    response = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                if response.get("Failed"):
                    failed = ", ".join(batch[int(f["Id"])] for f in response["Failed"])
                    raise AwsUnavailable(f"SQS did not accept the messages for: {failed}")
                sent += len(batch)
                batch = []
        return sent

    def send_later(self, message: IssueMessage, delay_seconds: int) -> None:
        """Queue ``message`` again, delivered after ``delay_seconds`` (0-900, SQS's DelaySeconds)."""
        with translated("queueing a certificate to be looked at again later"):
            client("sqs", self._region).send_message(
                QueueUrl=self.queue_url, MessageBody=message.body(), DelaySeconds=max(0, min(int(delay_seconds), 900))
            )
