"""Read layers/acmevault/requirements.lock (`uv pip compile --generate-hashes` output)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

LAYER = Path(__file__).resolve().parents[2] / "layers" / "acmevault"
LOCK = LAYER / "requirements.lock"
REQUIREMENTS = LAYER / "requirements.txt"


@dataclass
class Pin:
    name: str
    version: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def read_lock(text: str) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        if match := re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line):
            current = pins.setdefault(canonicalize_name(match[1]), Pin(canonicalize_name(match[1]), match[2]))
        elif current and (match := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            current.hashes.append(match[1])
        elif current and (match := re.match(r"^\s+#\s+(?:via\s+)?(\S.*)$", line)):
            current.via.append(match[1].strip())
    return pins
