"""Option values the verbs share: seconds and counts (ASCII digits only), and a timeout within the lease."""

from __future__ import annotations

import argparse
import re

from acmevault.domain.errors import ValidationError

DEFAULT_TIMEOUT = 300.0

# ASCII digits only: float() and int() also take other scripts' digits, and float() 'nan' and 'inf'.
_SECONDS = re.compile(r"\A[0-9]{1,6}(\.[0-9]{1,3})?\Z", re.ASCII)
_COUNT = re.compile(r"\A[0-9]{1,3}\Z", re.ASCII)


def seconds(text: str) -> float:
    """A positive number of seconds, such as 300 or 0.5 (an argparse type)."""
    if not _SECONDS.fullmatch(text) or float(text) <= 0:
        raise argparse.ArgumentTypeError("must be a number of seconds, such as 300 or 0.5")
    return float(text)


def count(text: str) -> int:
    """A whole number from 1 to 999 (an argparse type)."""
    if not _COUNT.fullmatch(text) or int(text) < 1:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 999")
    return int(text)


def check_timeout(timeout: float) -> float:
    """A worker must finish within its lease: past it, another worker may take the certificate over."""
    from acmevault.app.record import LEASE_SECONDS

    if not 0 < timeout <= LEASE_SECONDS:
        raise ValidationError("--timeout", f"{timeout:g} s is not within the lease (0 to {LEASE_SECONDS:g} s)")
    return timeout
