"""The ACM regions a certificate serves from: which ones, delivering to each on its own, catching up one that lags.

One ACM region failing holds back nothing else: S3, the record and the other regions move on, the
region is marked failed, and it is re-imported later from the certificate and key kept for it
(``CatchUp``), without a new order: ``catch_up_regions``, with backoff between attempts. A region
dropped from the spec keeps its ARN and is no longer renewed (``dropped_regions``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from acmevault.app.details import event_detail
from acmevault.app.notices import Alert, Notice, alert, tell
from acmevault.app.record import Record
from acmevault.app.services import Services
from acmevault.domain.certificate import (
    CatchUp,
    Certificate,
    CertificateSpec,
    CertificateState,
    RegionState,
    RegionStatus,
    Status,
    retry_delay,
)
from acmevault.domain.coverage import serves
from acmevault.domain.errors import AwsError, DirectoryNotFound, UnavailableError
from acmevault.domain.keys import CertificateBundle

log = logging.getLogger(__name__)


def acm_regions(spec: CertificateSpec, services: Services) -> tuple[str, ...]:
    """The ACM regions the spec asks for (the stack's default when it names none); none at all for an SXG
    directory's certificates, which go to S3 only (browsers refuse them on TLS)."""
    try:
        for_sxg = services.accounts.require(spec.directory).sxg
    except DirectoryNotFound:
        for_sxg = False  # nothing is issued from a directory that is gone; its regions are as the spec says
    return () if for_sxg else spec.acm_regions or services.default_acm_regions


def dropped_regions(cert: Certificate, services: Services) -> list[str]:
    """Regions the certificate has an ARN in that its spec no longer names: left alone, never renewed."""
    wanted = acm_regions(cert.spec, services)
    return sorted(r for r, state in cert.state.regions.items() if r not in wanted and state.arn is not None)


def serves_everywhere(state: CertificateState, spec: CertificateSpec, regions: tuple[str, ...]) -> bool:
    """Whether the spec is served: its names and key type, in every region it names (a region that
    failed counts: it is retried on its own; one never tried does not)."""
    return serves(state, spec) and all(r in state.regions for r in regions)


def only_regions_lag(current: Certificate, regions: tuple[str, ...], now: datetime) -> bool:
    """Whether the serving certificate is right and only ACM regions lag: a re-import, not a new order."""
    state = current.state
    renewal_due = state.renew_at is None or now >= state.renew_at
    return (
        state.catch_up is not None
        and state.pending is None
        and state.status is not Status.REVOKED
        and bool(state.lagging(regions))
        and not renewal_due
        and serves(state, current.spec)
    )


def settle_catch_up(current: Certificate, regions: tuple[str, ...], record: Record) -> Certificate:
    """The lagging regions were dropped from the spec meanwhile: nothing is left to catch up, so the
    kept key goes and the retry with it."""
    state = current.state
    if state.catch_up is None or state.pending is not None or state.lagging(regions):
        return current
    record.save(catch_up=None, retry_at=None, consecutive_failures=0, last_error=None)
    return record.cert


def catch_up_regions(record: Record) -> Certificate:
    """Import the serving certificate into the ACM regions that lag behind it, from the key kept for
    them: no ACME order. S3 and the record's serial are already right."""
    spec, services, state = record.cert.spec, record.services, record.cert.state
    assert state.catch_up is not None
    key_pem = services.keys.decrypt(spec.name, state.catch_up.encrypted_key)
    bundle = CertificateBundle.from_fullchain(state.catch_up.fullchain, key_pem, spec.domains)
    lagging = state.lagging(acm_regions(spec, services))
    log.info("catching up ACM regions", extra={"certificate": spec.name, "regions": lagging})
    regions = import_everywhere(record, bundle, lagging)
    failed = sorted(r for r in lagging if regions[r].status is RegionStatus.FAILED)
    caught_up = replace(record.cert.state, regions=regions, updated_at=services.clock())
    if failed:
        caught_up = regions_failed(
            caught_up, state.consecutive_failures, failed, bundle, state.catch_up.encrypted_key, services
        )
    else:
        caught_up = replace(caught_up, catch_up=None, last_error=None, consecutive_failures=0, retry_at=None)
    record.put(caught_up)
    tell_failed_regions(record.cert, services)
    return record.cert


def import_everywhere(record: Record, bundle: CertificateBundle, regions: Sequence[str]) -> dict[str, RegionState]:
    """Import into each region on its own; a failure there is kept on that region, never raised."""
    spec, services = record.cert.spec, record.services
    states = dict(record.cert.state.regions)
    revoked = record.cert.state.status is Status.REVOKED
    for region in regions:
        before = states.get(region, RegionState())
        try:
            arn = services.acm.import_certificate(region, spec.name, bundle, before.arn)
            if revoked:
                services.acm.clear_revoked(region, arn)  # the ARN serves a valid certificate again
        except (AwsError, UnavailableError) as error:
            log.warning("ACM import failed", extra={"certificate": spec.name, "region": region, "error": error.code})
            states[region] = replace(before, status=RegionStatus.FAILED, error=f"{error.code}: {error.message}")
            continue
        states[region] = RegionState(arn=arn, serial=bundle.serial, status=RegionStatus.SERVED)
        if before.arn != arn:
            record.save(regions=dict(states))  # a new ARN is kept at once: a retry re-imports into it
    return states


def regions_failed(
    state: CertificateState,
    failures_before: int,
    failed: list[str],
    bundle: CertificateBundle,
    encrypted_key: bytes | None,
    services: Services,
) -> CertificateState:
    """Issued, but ACM regions lag: keep what they are re-imported from, and come back with backoff."""
    failures = failures_before + 1
    errors = "; ".join(f"ACM {r}: {state.regions[r].error}" for r in failed)
    catch_up = CatchUp(bundle.fullchain_pem, encrypted_key) if encrypted_key is not None else None
    return replace(
        state,
        catch_up=catch_up,
        last_error=errors,
        consecutive_failures=failures,
        retry_at=services.clock() + retry_delay(failures, None, services.rng.random()),
    )


def tell_failed_regions(cert: Certificate, services: Services) -> None:
    """One "Certificate Region Failed" event per failed region, and one alert for them all."""
    failed = {r: s for r, s in cert.state.regions.items() if s.status is RegionStatus.FAILED}
    if not failed:
        return
    name = cert.spec.name
    services.metrics.renewal_failed(name)
    for region, state in sorted(failed.items()):
        detail = {**event_detail(cert), "region": region, "arn": state.arn, "error": state.error}
        tell(services, name, Notice.CERTIFICATE_REGION_FAILED, detail)
    alert(
        services,
        name,
        Alert(
            f"acmevault: {name} not imported into ACM in {', '.join(sorted(failed))}",
            f"{name} ({', '.join(cert.spec.domains)}) serial {cert.state.serial} is in S3 and the other regions; "
            f"{cert.state.last_error}. The region is retried on its own (no new order) after "
            f"{cert.state.retry_at:%Y-%m-%d %H:%M} UTC; it keeps serving its previous certificate until then.",
        ),
    )
