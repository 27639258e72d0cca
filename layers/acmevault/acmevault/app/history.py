"""A certificate's audit trail: what was done to it and when (never a secret), newest first when read."""

from __future__ import annotations

import logging
from typing import Any

from acmevault.app.services import Services
from acmevault.domain.errors import AcmeVaultError

log = logging.getLogger(__name__)


def record_history(name: str, entry: dict[str, Any], services: Services) -> None:
    """Note what was done; the action stands even if the note cannot be written."""
    try:
        services.certificates.add_history(name, {**entry, "at": services.clock().isoformat()})
    except AcmeVaultError:
        log.exception("history not recorded", extra={"certificate": name, "action": entry.get("action")})
