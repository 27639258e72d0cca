"""Whether a certificate is what a spec asks for: exactly (its names and key type), or at least (it covers them)."""

from __future__ import annotations

from cryptography import x509

from acmevault.domain.certificate import CertificateSpec, CertificateState
from acmevault.domain.keys import CertificateBundle, key_type_of


def matches(certificate: x509.Certificate, spec: CertificateSpec) -> bool:
    """Exactly the spec's names (the certificate's DNS names, in any case) and its key type."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    names = {n.lower() for n in san.value.get_values_for_type(x509.DNSName)}
    return names == set(spec.domains) and key_type_of(certificate) is spec.key_type


def covers(bundle: CertificateBundle, spec: CertificateSpec) -> bool:
    """At least the spec's names, with its key type: it may serve the spec until the exact one is issued."""
    names = {n.lower() for n in bundle.dns_names}
    return set(spec.domains) <= names and key_type_of(bundle.certificate) is spec.key_type


def serves(state: CertificateState, spec: CertificateSpec) -> bool:
    """Whether the serving certificate is exactly what the spec asks for: its names and key type."""
    if state.certificate_pem is None:
        return False
    return matches(x509.load_pem_x509_certificate(state.certificate_pem.encode()), spec)
