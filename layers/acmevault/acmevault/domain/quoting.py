"""How untrusted input is quoted back in an error: enough to find the mistake, never a pasted secret.

A value is shown as ``repr`` (control characters escaped, so ``'web\\n'`` is visible as such), cut to
a few dozen characters; a value that looks like a secret (``redaction.looks_secret``) is described by
its length only. A field name is shown when it looks like one (lower-case ASCII, at most 32
characters): a mistyped ``domain`` is named so the caller can fix it, while anything else, such as
an HMAC key pasted where a field name goes, is described as ``<unknown field, N characters>``.
"""

from __future__ import annotations

import re
from typing import Any

from acmevault.domain.redaction import looks_secret

SHOWN_CHARACTERS = 64
# Lower case only: a random base64url key of 22+ characters is all lower case about once in 10^5.
_FIELD_NAME = re.compile(r"\A[a-z][a-z0-9_-]{0,31}\Z", re.ASCII)


def quoted(value: Any) -> str:
    """``value`` as an error message may show it."""
    if isinstance(value, str):
        if looks_secret(value):
            return f"a value of {len(value)} characters"
        if len(value) > SHOWN_CHARACTERS:
            return f"{value[:SHOWN_CHARACTERS]!r}… ({len(value)} characters)"
        return repr(value)
    text = repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else f"{text[:SHOWN_CHARACTERS]}… (a {type(value).__name__})"


def argument_label(argument: str) -> str:
    """A command-line argument the parser did not take: an option by its name (its ``=value`` left
    out), a plain word as it is, anything else by its length."""
    option, _, _ = argument.partition("=") if argument.startswith("--") else (argument, "", "")
    if _FIELD_NAME.fullmatch(option.lstrip("-")) and not looks_secret(option):
        return repr(option)
    return f"<an argument of {len(argument)} characters>"


def field_label(name: Any) -> str:
    """An unknown field's name as an error (its message and its ``field``) may carry it."""
    if isinstance(name, str) and _FIELD_NAME.fullmatch(name) and not looks_secret(name):
        return name
    length = len(name) if isinstance(name, str) else len(repr(name))
    return f"<unknown field, {length} characters>"
