"""A last line of defence: secret-looking values are blanked out of every log line before it is written.

acmevault does not log secrets in the first place (tests check that); this catches what a
library, a future change or an exception traceback might let through: PEM private keys, every
EAB HMAC key this process has validated (``remember``), and base64url tokens of mixed case and
digits from 22 characters on, the shape of an EAB HMAC key (16 bytes, the shortest the model
accepts, are 22 base64url characters).
"""

from __future__ import annotations

import re
import sys
import threading

_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL | re.ASCII
)
SHORTEST_SECRET = 22  # base64url characters of a 16-byte EAB MAC key (model.MIN_HMAC_BYTES)
_SECRET_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_-])"
    r"(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[0-9])"
    rf"[A-Za-z0-9_-]{{{SHORTEST_SECRET},}}={{0,2}}"
    r"(?![A-Za-z0-9_-])",
    re.ASCII,
)
REDACTED = "[redacted]"

# Exact secrets seen by this process: a key without a digit escapes the shape above, not this.
_known: set[str] = set()
_known_lock = threading.Lock()


def remember(secret: str) -> None:
    """Blank ``secret`` wherever it appears from now on (called for every HMAC key the model accepts)."""
    if len(secret) >= 8:  # a shorter value would blank ordinary words; the model accepts none that short
        with _known_lock:
            _known.add(secret)


def _without_known(text: str) -> str:
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact(text: str) -> str:
    """``text`` with every known secret, PEM private key and secret-shaped token replaced by ``[redacted]``."""
    return _SECRET_TOKEN.sub(REDACTED, _PEM_PRIVATE_KEY.sub(REDACTED, _without_known(text)))


def looks_secret(text: str) -> bool:
    """Whether ``text`` holds something ``redact`` would blank (a known secret, a key, a token)."""
    return redact(text) != text


class RedactingStream:
    """A text stream that redacts, then writes to whatever sys.stdout is at the time."""

    def write(self, text: str) -> int:
        """Write ``text`` redacted; the length written is the redacted text's."""
        return sys.stdout.write(redact(text))

    def flush(self) -> None:
        """Flush sys.stdout."""
        sys.stdout.flush()
