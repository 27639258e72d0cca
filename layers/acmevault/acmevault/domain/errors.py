"""One tree of errors. Adapters translate vendor errors (botocore, acme, requests) into it.

Messages name the thing that was wrong and never carry secret material: the
EAB HMAC key and private keys are not passed to any constructor here.
"""

from __future__ import annotations

from datetime import datetime


class AcmeVaultError(Exception):
    """Base of every error acmevault raises on purpose."""

    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(AcmeVaultError):
    """Input that cannot be accepted; nothing was changed."""

    code = "validation_error"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Forbidden(AcmeVaultError):
    """The caller may not do this (a route for admins, a directory or a name its policy does not allow);
    nothing was changed. ``field`` names what was refused: the route, the directory or the name."""

    code = "forbidden"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(AcmeVaultError):
    """The thing asked for does not exist."""

    code = "not_found"


class DirectoryNotFound(NotFoundError):
    """No directory of that name is vaulted."""

    def __init__(self, name: str) -> None:
        super().__init__(f"directory {name!r} does not exist; vault it with 'acmevault directory put {name}'")
        self.name = name


class CertificateNotFound(NotFoundError):
    """No certificate of that name is defined."""

    def __init__(self, name: str) -> None:
        super().__init__(f"certificate {name!r} does not exist; define it with 'acmevault cert put {name}'")
        self.name = name


class ConflictError(AcmeVaultError):
    """The request does not fit what exists now: a duplicate, something still in use, a lease held."""

    code = "conflict"


class LeaseHeld(ConflictError):
    """Another worker is issuing this certificate right now (or died holding it: the lease then runs out)."""

    code = "lease_held"

    def __init__(self, name: str, until: datetime | None = None) -> None:
        when = f" until {until:%Y-%m-%d %H:%M:%S} UTC (when its lease expires)" if until else " right now"
        super().__init__(f"certificate {name!r} is locked by another worker{when}; try again later")
        self.name = name
        self.until = until


class SpecChanged(ConflictError):
    """The spec changed after this worker read it: the state it would write is for an older spec."""

    code = "spec_changed"

    def __init__(self, name: str) -> None:
        super().__init__(f"certificate {name!r}: its spec changed while this worker was issuing it")
        self.name = name


class LeaseLost(ConflictError):
    """This worker's lease ran out and another worker took the certificate over: it must not write its state."""

    code = "lease_lost"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"certificate {name!r}: this worker's lease ran out and another worker holds it now; "
            "nothing was written over that worker's state"
        )
        self.name = name


class CaError(AcmeVaultError):
    """The ACME server answered, and refused."""

    code = "ca_refused"

    def __init__(self, message: str, problem_type: str | None = None) -> None:
        super().__init__(message)
        self.problem_type = problem_type


class AlreadyRevoked(CaError):
    """The CA had revoked the certificate already (RFC 8555 problem ``alreadyRevoked``)."""


class AccountDoesNotExist(CaError):
    """The CA has no account for the key (problem ``accountDoesNotExist``)."""


class Unauthorized(CaError):
    """The CA refuses this client the action (problem ``unauthorized``)."""


class Malformed(CaError):
    """The CA found the request malformed (problem ``malformed``)."""


class ExternalAccountRequired(CaError):
    """The CA requires an External Account Binding the request did not carry (problem ``externalAccountRequired``)."""


class BadPublicKey(CaError):
    """The CA does not accept the account's key (problem ``badPublicKey``)."""


# RFC 8555 §6.7 problem types (without the "urn:ietf:params:acme:error:" prefix) that callers act on.
CA_PROBLEMS: dict[str, type[CaError]] = {
    "alreadyRevoked": AlreadyRevoked,
    "accountDoesNotExist": AccountDoesNotExist,
    "unauthorized": Unauthorized,
    "malformed": Malformed,
    "externalAccountRequired": ExternalAccountRequired,
    "badPublicKey": BadPublicKey,
}


def ca_problem(message: str, problem_type: str | None) -> CaError:
    """The CaError for a problem document: its own class for the problem types above, CaError otherwise."""
    return CA_PROBLEMS.get(problem_type or "", CaError)(message, problem_type)


class CredentialRejected(CaError):
    """The CA refused the directory credential (wrong KID or HMAC, reused binding, ...)."""

    code = "credential_rejected"


class AuthorizationRequired(CaError):
    """challenge=none, but the CA does not hold a valid authorization for a name."""

    code = "authorization_required"

    def __init__(self, domain: str) -> None:
        super().__init__(
            f"{domain}: the CA has no valid authorization for this name and challenge is 'none'; "
            "pre-validate it at the CA or use challenge 'auto' or 'dns-01'"
        )
        self.domain = domain


class OrderMismatch(CaError):
    """The CA's order (or its authorizations) is for other names than the spec: it is not proved."""

    code = "order_mismatch"

    def __init__(self, order_url: str, ordered: list[str], wanted: list[str]) -> None:
        super().__init__(
            f"the CA's order {order_url} is for {ordered}, not the spec's names {wanted}; "
            "it was dropped without writing any DNS record, and the next attempt orders again"
        )


class ChallengeFailed(CaError):
    """The CA could not validate a challenge (the dns-01 record it read, or none)."""

    code = "challenge_failed"


class UnavailableError(AcmeVaultError):
    """A dependency (the CA or AWS) could not be reached or is failing; try again later."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CaUnavailable(UnavailableError):
    """The CA cannot be reached, or is failing or rate-limiting; try again later."""

    code = "ca_unavailable"


class AwsUnavailable(UnavailableError):
    """AWS cannot be reached, or throttles or fails; try again later."""

    code = "aws_unavailable"


class OutOfTime(UnavailableError):
    """The time budget ran out part-way; the order in flight is kept and the next attempt resumes it."""

    code = "out_of_time"


class AwsError(AcmeVaultError):
    """AWS refused a request (access denied, bad parameter, ...)."""

    code = "aws_error"


class DnsError(AcmeVaultError):
    """Route 53 could not give what dns-01 needs: no zone for a name, access denied, a change refused."""

    code = "dns_error"


class CertificateRejected(AcmeVaultError):
    """An issued certificate failed our checks before it was pushed anywhere."""

    code = "certificate_rejected"


class ConfigurationError(AcmeVaultError):
    """The deployment is missing something or misconfigured (an environment variable, a stack, a secret)."""

    code = "configuration_error"


class DirectoryLost(ConflictError):
    """The directory's credential was marked lost: nothing is issued from it until it is replaced."""

    code = "directory_lost"

    def __init__(self, name: str, since: str | None = None) -> None:
        when = f" (since {since})" if since else ""
        super().__init__(
            f"directory {name!r} is marked lost{when}; nothing is issued from it until its credential is "
            f"replaced: 'acmevault directory rotate {name} --url URL --eab-kid KID' (HMAC key on stdin), "
            f"or POST /directories/{name}/rotate with the new credential"
        )
        self.name = name


class RotationFailed(CaError):
    """The new credential does not work at its CA (testSecret); the one in use (AWSCURRENT) is unchanged."""

    code = "rotation_failed"


class AwaitingCa(AcmeVaultError):
    """The CA keeps the order "processing" (an approval, an OV/EV check): not a failure. The order is
    kept on the record and looked at again after ``retry_after`` seconds (the CA's Retry-After, if any)."""

    code = "awaiting_ca"

    def __init__(self, order_url: str, retry_after: float | None) -> None:
        super().__init__(f"the CA is still processing order {order_url} (waiting for its approval)")
        self.order_url = order_url
        self.retry_after = retry_after
