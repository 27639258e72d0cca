"""A last line of defence: secret-looking values are blanked out of every log line before it is written.

acmevault does not log secrets in the first place (tests check that); this catches what a
library, a future change or an exception traceback might let through: PEM private keys and
long base64url tokens of mixed case and digits, the shape of an EAB HMAC key.
"""

from __future__ import annotations

import re
import sys

_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL)
_SECRET_TOKEN = re.compile(
    r"(?<![A-Za-z0-9_-])"
    r"(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[0-9])"
    r"[A-Za-z0-9_-]{32,}={0,2}"
    r"(?![A-Za-z0-9_-])"
)
REDACTED = "[redacted]"


def redact(text: str) -> str:
    return _SECRET_TOKEN.sub(REDACTED, _PEM_PRIVATE_KEY.sub(REDACTED, text))


class RedactingStream:
    """A text stream that redacts, then writes to whatever sys.stdout is at the time."""

    def write(self, text: str) -> int:
        return sys.stdout.write(redact(text))

    def flush(self) -> None:
        sys.stdout.flush()
