"""A failed attempt, recorded: the previous certificate keeps serving, the error and a retry time beside it.

The record keeps its serial, dates and ARNs, with ``last_error``, ``consecutive_failures`` and
``retry_at`` (exponential backoff with jitter, never before the CA's Retry-After). ``failed`` is
written only when nothing was ever issued; a failed renewal keeps ``issued`` (or ``revoked``).
People are told ("Certificate Renewal Failed" and an alert), and telling never fails the action.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from acmevault.app.details import event_detail
from acmevault.app.notices import Alert, Notice, tell
from acmevault.app.record import Record
from acmevault.domain.certificate import Certificate, Status, retry_delay
from acmevault.domain.errors import AcmeVaultError, LeaseLost, UnavailableError

log = logging.getLogger(__name__)


def record_failure(record: Record, error: AcmeVaultError) -> None:
    """Write the failure on the record (unless another worker holds it now) and tell people."""
    current, services = record.cert, record.services
    state, now = current.state, services.clock()
    failures = state.consecutive_failures + 1
    retry_after = error.retry_after if isinstance(error, UnavailableError) else None
    waiting = state.status is Status.AWAITING_CA
    failed = replace(
        state,
        status=Status.FAILED if state.serial is None else (Status.ISSUED if waiting else state.status),
        last_error=f"{error.code}: {error.message}",
        consecutive_failures=failures,
        retry_at=now + retry_delay(failures, retry_after, services.rng.random()),
        updated_at=now,
    )
    if not isinstance(error, UnavailableError):  # the CA refused the order it kept waiting: the wait is over
        failed = replace(failed, awaiting_since=None, awaiting_alerted_at=None)
    try:
        services.certificates.save_state(current.spec.name, failed, record.owner)
    except LeaseLost:
        log.warning(
            "lease lost; the failure is left to the worker holding it", extra={"certificate": current.spec.name}
        )
        return
    except AcmeVaultError:
        log.exception("could not record the failure", extra={"certificate": current.spec.name})
    log.warning("issuance failed", extra={"certificate": current.spec.name, "error": error.code})
    services.metrics.renewal_failed(current.spec.name)
    detail = {**event_detail(Certificate(current.spec, failed)), "error": error.code, "message": error.message}
    tell(
        services,
        current.spec.name,
        Notice.CERTIFICATE_RENEWAL_FAILED,
        detail,
        Alert(
            f"acmevault: renewal of {current.spec.name} failed",
            f"{current.spec.name} ({', '.join(current.spec.domains)}): {error.message}\n"
            f"Failures in a row: {failures}. Next attempt after {failed.retry_at:%Y-%m-%d %H:%M} UTC. "
            "The previous certificate, if any, is still serving.",
        ),
    )
