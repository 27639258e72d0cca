"""The scheduled sweep: find the certificates whose renewal time has come and queue them."""

from __future__ import annotations

import logging
from datetime import datetime

from .aws.queue import IssueQueue
from .ports import Certificates

log = logging.getLogger(__name__)


def queue_due(now: datetime, certificates: Certificates, queue: IssueQueue) -> int:
    """Queue one message per due certificate; the issue worker does the rest."""
    sent = queue.send(certificates.due(now), reason="renewal")
    log.info("renewals queued", extra={"count": sent})
    return sent
