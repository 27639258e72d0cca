"""The issue queue (SQS): one message per certificate to issue or renew (acmevault.domain.issue_message)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from acmevault.adapters.aws.clients import client, translated
from acmevault.domain.errors import AwsUnavailable
from acmevault.domain.issue_message import IssueMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef


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
                    {"Id": str(i), "MessageBody": _message(n, reason, serials).body()} for i, n in enumerate(batch)
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


def _message(name: str, reason: str, serials: Mapping[str, str | None] | None) -> IssueMessage:
    """The message for ``name``; with ``serials``, carrying its serial at the time of asking."""
    if serials is None:
        return IssueMessage(name, reason)
    return IssueMessage(name, reason, serials.get(name), knows_serial=True)
