"""Alerts for people: an SNS topic (failures, near-expiry, a directory marked lost). No-op without a topic."""

from __future__ import annotations

from acmevault.adapters.aws.clients import client, translated


class SnsAlerts:
    """Alerts on an SNS topic; none are sent when no topic is configured."""

    def __init__(self, topic_arn: str | None, region: str | None = None) -> None:
        self.topic_arn = topic_arn
        self._region = region

    def notify(self, subject: str, message: str) -> None:
        """Publish the alert (the subject cut to SNS's 100 characters); nothing without a topic."""
        if not self.topic_arn:
            return
        with translated(f"sending the alert {subject!r}"):
            client("sns", self._region).publish(TopicArn=self.topic_arn, Subject=subject[:100], Message=message)
