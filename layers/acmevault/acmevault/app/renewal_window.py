"""When the CA wants a certificate renewed (ARI, RFC 9773): asked when it is issued, and again when
the CA said to ask again (``ari_check_at``). A CA without ARI, or an answer that is no use, leaves the
lifetime-based renewal time as it is."""

from __future__ import annotations

import logging
from dataclasses import replace

from cryptography import x509

from acmevault.app.services import Services
from acmevault.domain import ari
from acmevault.domain.certificate import Certificate, CertificateState
from acmevault.domain.errors import AcmeVaultError
from acmevault.ports.ca import CaSession

log = logging.getLogger(__name__)


def refresh_renewal_time(current: Certificate, services: Services, owner: str | None = None) -> Certificate:
    """Not due: ask the CA again for its renewal window if that time has come (ARI), and record it."""
    state, now = current.state, services.clock()
    if state.ari_check_at is None or now < state.ari_check_at or state.certificate_pem is None:
        return current
    session = services.accounts.session(current.spec.directory)
    certificate = x509.load_pem_x509_certificate(state.certificate_pem.encode())
    updated = Certificate(current.spec, with_renewal_window(state, session, certificate, services))
    services.certificates.save_state(current.spec.name, updated.state, owner)
    return updated


def with_renewal_window(
    state: CertificateState, session: CaSession, certificate: x509.Certificate, services: Services
) -> CertificateState:
    """``state`` with the renewal time the CA suggests for ``certificate`` and when to ask again; after
    an error, the same renewal time, asked again in six hours (never raises)."""
    now = services.clock()
    try:
        plan = ari.plan(session.renewal_info(ari.certificate_id(certificate)), now, services.rng)
    except (AcmeVaultError, ValueError) as error:
        log.warning("renewal information unavailable", extra={"error": type(error).__name__})
        plan = ari.failed(now)
    return replace(state, renew_at=plan.renew_at or state.renew_at, ari_check_at=plan.check_again_at)
