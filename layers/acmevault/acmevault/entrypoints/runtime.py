"""What every Lambda handler shares: a logger wired to acmevault's own loggers, and the time budget."""

from __future__ import annotations

import logging
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from acmevault.domain.redaction import RedactingStream

SAFETY_MARGIN_SECONDS = 10.0


def lambda_logger() -> Logger:
    """The Powertools logger for a handler; acmevault.* modules log through the same JSON formatter."""
    logger = Logger()
    handler = logger.registered_handler
    # Every line goes through the redactor; set once per process (a warm container reuses the handler).
    if isinstance(handler, logging.StreamHandler) and not isinstance(handler.stream, RedactingStream):
        handler.setStream(RedactingStream())
    copy_config_to_registered_loggers(source_logger=logger, include={"acmevault"})
    return logger


def deadline(context: Any) -> float:
    """A monotonic deadline that leaves time to record a failure before Lambda stops the function."""
    remaining = float(context.get_remaining_time_in_millis()) / 1000.0
    return time.monotonic() + max(1.0, remaining - SAFETY_MARGIN_SECONDS)
