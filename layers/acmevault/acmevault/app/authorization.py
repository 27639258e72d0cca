"""Who is asking, and whether they may: the one place the API's routes and the use cases ask.

- Admins (``ACMEVAULT_ADMIN_PRINCIPALS``, ARN patterns) may do everything; the directory routes (vault,
  policy, rotate, revoke) are theirs alone. The command line runs with the operator's own AWS
  credentials, which IAM already let at the table and the secrets: it is an admin for routes.
- A certificate route is also open to the principals its directory's policy allows; a directory
  without a policy is for admins only.
- For everyone, the command line included, every name of a certificate must lie inside its
  directory's ``allowed_domains`` (when the policy has any): ``check_names``, called by the use case.

Each refusal, and each allowed change, is written to the audit history of the certificate or the
directory it is about (their history items), with the principal's ARN as ``actor``. Refusals are
``Forbidden`` (HTTP 403) and change nothing else. An allowance is a ``Permit``: the route records it
(``permit.record()``) once its change is made, so a request that fails later (bad input, a CA that
refuses) leaves no trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, Protocol

from acmevault.domain.errors import AcmeVaultError, Forbidden
from acmevault.domain.policy import DirectoryPolicy, principal_allowed

log = logging.getLogger(__name__)

ALLOWED, REFUSED = "allowed", "refused"


@dataclass(frozen=True)
class Caller:
    """The principal a request comes from (its ARN as signed), and whether it is an admin."""

    arn: str
    admin: bool
    via: str = "api"  # api | cli

    @classmethod
    def signed(cls, arn: str | None, admins: Sequence[str]) -> Caller:
        """The API caller; a request without an IAM identity is refused (never guessed at)."""
        if not arn:
            raise Forbidden(
                "requestContext.identity", "the request carries no IAM caller identity; sign it with SigV4 (AWS_IAM)"
            )
        return cls(arn, principal_allowed(arn, admins))

    @classmethod
    def operator(cls, arn: str) -> Caller:
        """The command line: the operator's own AWS credentials, an admin for routes."""
        return cls(arn, admin=True, via="cli")

    def may_use(self, policy: DirectoryPolicy | None) -> bool:
        """Admins use every directory; anyone else only one whose policy names them."""
        return self.admin or (policy is not None and policy.allows_principal(self.arn))


class History(Protocol):
    """Where a certificate's or a directory's audit entries go (the table's history items)."""

    def add_history(self, name: str, entry: dict[str, Any]) -> None:
        """Append one audit entry to ``name``'s history."""
        ...


class Policies(Protocol):
    """Where directories' policies are kept (the directory records)."""

    def policy(self, name: str) -> DirectoryPolicy | None:
        """The directory's policy; None when it has none (then only admins may use it)."""
        ...


def names_outside(domains: Sequence[str], policy: DirectoryPolicy | None) -> list[str]:
    """The names a directory's policy does not allow (none when it restricts no names)."""
    return [] if policy is None else [d for d in domains if not policy.allows_domain(d)]


@dataclass(frozen=True)
class Permit:
    """A caller allowed on a route for one certificate or directory; ``record`` notes it in the audit history."""

    gate: Gate
    history: History
    name: str
    caller: Caller
    route: str

    def record(self, **facts: Any) -> None:
        """Note the allowed change, once made; the change stands even if the note cannot be written."""
        try:
            self.gate.note(self.history, self.name, self.caller, self.route, ALLOWED, **facts)
        except AcmeVaultError:
            log.exception("allowed change not recorded", extra={"route": self.route, "target": self.name})


@dataclass(frozen=True)
class Gate:
    """Decides for a caller, and writes each decision that matters to the audit history."""

    policies: Policies
    certificate_history: History
    directory_history: History
    clock: Callable[[], datetime]

    # -- decisions --------------------------------------------------------------------------------

    def admin_only(self, caller: Caller, route: str, directory: str) -> Permit:
        """A directory route: admins only."""
        if not caller.admin:
            message = f"{route} is for admins only; {caller.arn} is not an admin of this stack"
            self._refuse(self.directory_history, directory, caller, route, "route", message)
        return Permit(self, self.directory_history, directory, caller, route)

    def may_read_directory(self, caller: Caller, route: str, directory: str) -> None:
        """GET /directories/{name}: admins, and the principals the directory's policy allows."""
        if not self._may_use(caller, directory):
            message = f"directory {directory!r} does not allow {caller.arn} (its policy's allowed_principals)"
            self._refuse(self.directory_history, directory, caller, route, "name", message)

    def may_use_certificate(self, caller: Caller, route: str, name: str, directory: str) -> Permit:
        """A certificate route on ``name`` of ``directory``: admins, and the principals it allows.
        A change records its permit; an allowed read is not noted (API Gateway's access log has it)."""
        if not self._may_use(caller, directory):
            message = (
                f"certificate {name!r} uses directory {directory!r}, which does not allow {caller.arn} "
                "(its policy's allowed_principals)"
            )
            self._refuse(self.certificate_history, name, caller, route, "name", message)
        return Permit(self, self.certificate_history, name, caller, route)

    def may_move_certificate(self, caller: Caller, route: str, name: str, old: str, new: str) -> None:
        """Moving a certificate to another directory is for admins."""
        if old != new and not caller.admin:
            message = f"moving certificate {name!r} from directory {old!r} to {new!r} is for admins only"
            self._refuse(self.certificate_history, name, caller, route, "directory", message)

    def check_names(self, caller: Caller | None, route: str, name: str, directory: str, domains: Sequence[str]) -> None:
        """Every name inside the directory's allowed_domains: for everyone, admins and the CLI included."""
        self.check_names_under(self.policies.policy(directory), caller, route, name, directory, domains)

    def check_names_under(
        self,
        policy: DirectoryPolicy | None,
        caller: Caller | None,
        route: str,
        name: str,
        directory: str,
        domains: Sequence[str],
    ) -> None:
        """``check_names`` with the directory's policy as the caller has just read it (an issuance reads it with
        the directory's state, in one read)."""
        outside = names_outside(domains, policy)
        if outside:
            assert policy is not None
            message = (
                f"{outside[0]!r} is not inside the allowed domains of directory {directory!r} "
                f"({', '.join(policy.allowed_domains)}); ask an admin to add it to the directory's policy"
            )
            self._refuse(self.certificate_history, name, caller, route, "domains", message)

    def may_see(self, caller: Caller) -> Callable[[str], bool]:
        """For listings: whether the caller may see things of a directory (policies read once each)."""
        seen: dict[str, bool] = {}

        def visible(directory: str) -> bool:
            if directory not in seen:
                seen[directory] = self._may_use(caller, directory)
            return seen[directory]

        return visible

    def _may_use(self, caller: Caller, directory: str) -> bool:
        return caller.admin or caller.may_use(self.policies.policy(directory))  # admins: no read needed

    # -- the audit history --------------------------------------------------------------------------

    def note(self, history: History, name: str, caller: Caller | None, route: str, outcome: str, **facts: Any) -> None:
        """Write one decision to the audit history."""
        entry = {
            "action": "authorization",
            "route": route,
            "actor": caller.arn if caller else "acmevault",
            "via": caller.via if caller else "acmevault",
            "outcome": outcome,
            "at": self.clock().isoformat(),
            **facts,
        }
        history.add_history(name, entry)

    def _refuse(
        self, history: History, name: str, caller: Caller | None, route: str, field: str, message: str
    ) -> NoReturn:
        try:
            self.note(history, name, caller, route, REFUSED, reason=message)
        except AcmeVaultError:
            # The refusal stands even when it cannot be written down; the log has it.
            log.exception("refusal not recorded", extra={"route": route, "target": name})
        log.info("refused", extra={"route": route, "target": name, "actor": caller.arn if caller else None})
        raise Forbidden(field, message)
