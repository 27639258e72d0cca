"""Who is asking, and whether they may: the HTTP side of ``acmevault.app.authorization``.

The caller is the IAM principal that signed the request (API Gateway's AWS_IAM authorizer checked the
signature); a request without one is refused. A directory route asks ``admin_only(name)``, a route on an
existing certificate ``certificate(name)``; both answer 403 (``Forbidden``, audited) before anything is
read from the body or changed. The names rule (allowed_domains) is the use case's (``define_certificate``),
so it holds for the command line too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from acmevault.app.authorization import Caller, Gate, Permit
from acmevault.domain.certificate import Certificate
from acmevault.ports.certificates import Certificates


def signed_arn(event: APIGatewayProxyEvent) -> str | None:
    """The ARN of the IAM principal that signed the request, if any."""
    context = event.raw_event.get("requestContext") or {}
    identity = context.get("identity") if isinstance(context, dict) else None
    arn = identity.get("userArn") if isinstance(identity, dict) else None
    return arn if isinstance(arn, str) and arn else None


@dataclass(frozen=True)
class Access:
    """The authorization questions of one request; each refusal is a 403 written to the audit history."""

    gate: Gate
    certificates: Certificates
    admins: Sequence[str]  # ARN patterns of the stack's admins (AdminPrincipalArns)
    event: APIGatewayProxyEvent

    def caller(self) -> Caller:
        """Who is asking, admin or not; a request without an identity is refused (403)."""
        return Caller.signed(signed_arn(self.event), self.admins)

    def route(self) -> str:
        """The route asked for, as the audit history names it: ``PUT /certificates/{name}``."""
        context = self.event.raw_event.get("requestContext") or {}
        return f"{self.event.http_method} {context.get('resourcePath') or self.event.resource or self.event.path}"

    def admin_only(self, directory: str) -> Permit:
        """A directory route's permit, if the caller is an admin; otherwise 403 (audited in the directory's
        history). The route calls ``permit.record()`` once it has made its change."""
        return self.gate.admin_only(self.caller(), self.route(), directory)

    def certificate(self, name: str) -> tuple[Permit, Certificate]:
        """A route on the existing certificate ``name``: its permit and the certificate, if its directory allows
        the caller (admins always); otherwise 403, audited. A change calls ``permit.record()`` once it is made."""
        caller = self.caller()
        cert = self.certificates.get(name)
        return self.gate.may_use_certificate(caller, self.route(), name, cert.spec.directory), cert
