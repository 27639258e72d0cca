"""`acmevault cert`: define a certificate, issue or renew it now, list and show certificates, delete,
reset or revoke one, forget an ACM region.

`cert put` takes every field of a certificate spec as an option (``SPEC_OPTIONS``); the values go
through ``CertificateSpec.parse`` as the API's do, so the checks and messages are the API's.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from typing import Any

from acmevault.composition.config import settings
from acmevault.domain.certificate import Certificate, CertificateSpec
from acmevault.domain.errors import AcmeVaultError, CertificateNotFound
from acmevault.domain.validation import validate_name, validate_region

from acmevault_cli.arguments import DEFAULT_TIMEOUT, check_timeout, seconds
from acmevault_cli.commands.cert_views import cert_list, cert_show
from acmevault_cli.operator import permit, services
from acmevault_cli.output import progress

# Every field of a certificate spec (model.SPEC_FIELDS) as a `cert put` option: flags, help, repeatable.
SPEC_OPTIONS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "domains": (("-d", "--domain"), "a DNS name (repeatable; the first is the CN)", True),
    "directory": (("--directory",), "name of a vaulted directory", False),
    "key_type": (("--key-type",), "ec-p256 (default) | ec-p384 | rsa-2048 | rsa-3072 | rsa-4096", False),
    "challenge": (("--challenge",), "auto (default) | none | dns-01", False),
    "hosted_zone_id": (("--hosted-zone-id",), "Route 53 zone for dns-01 (default: longest match)", False),
    "route53_role_arn": (("--route53-role-arn",), "IAM role to assume for zones in another AWS account", False),
    "acm_regions": (("--acm-region",), "ACM region (repeatable; default the stack's)", True),
    "profile": (("--profile",), "ACME profile name", False),
    "renew_fraction": (("--renew-fraction",), "fraction of the lifetime left when renewal is due, 0.05-0.95", False),
}

# Fields without a default of their own: an empty value given for one clears it.
_CLEARABLE = ("hosted_zone_id", "route53_role_arn", "acm_regions", "profile", "renew_fraction")
REASONS = ", ".join(("unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"))


def _spec_value(field: str, value: Any) -> Any:
    """A flag's text as the API would get it: '' clears an optional field, a number is a number."""
    if field in _CLEARABLE and value in ("", [""]):
        return None
    if field == "renew_fraction":
        try:
            return float(value)
        except ValueError:
            return value  # CertificateSpec.parse refuses it with the API's message
    return value


def cert_put(args: argparse.Namespace) -> int:
    """Create a certificate, or change only the fields given on an existing one."""
    from acmevault.app.definition import define_certificate

    given = {f: _spec_value(f, getattr(args, f)) for f in SPEC_OPTIONS if getattr(args, f) is not None}
    try:
        current: dict[str, Any] = services().certificates.get(validate_name(args.name)).spec.to_dict()
    except CertificateNotFound:
        current = {}
    spec = CertificateSpec.parse(args.name, {**current, **given})
    # The operator's own credentials: an admin for routes; the directory's allowed_domains still apply.
    cert = define_certificate(spec, services(), permit(spec.name, spec.directory, "cert put"))
    verb = "changed" if current else "defined"
    print(f"certificate {cert.spec.name} {verb} ({', '.join(cert.spec.domains)}); status {cert.state.status.value}")
    return 0


def cert_issue(args: argparse.Namespace) -> int:
    """Issue (or renew) one certificate now, through the same code as IssueFunction."""
    from acmevault.app.issuance import issue_certificate

    timeout = check_timeout(args.timeout)
    started = time.monotonic()
    progress(f"issuing {args.name} ...")
    cert = issue_certificate(args.name, services(), time.monotonic() + timeout)
    elapsed = time.monotonic() - started
    if cert.state.awaiting_since is not None:  # the CA holds the order (approval): a wait, not a failure
        print(f"certificate {args.name}: {_awaiting(cert)}")
        return 0
    print(f"certificate {args.name}: issued serial {cert.state.serial} in {elapsed:.2f} s")
    lagging = sorted(r for r, state in cert.state.regions.items() if state.status.value == "failed")
    if lagging:  # served from S3 and the other regions; these are retried on their own, into the same ARN
        raise AcmeVaultError(
            f"not in ACM in {', '.join(lagging)} yet: {cert.state.last_error}; the next attempt retries "
            "them without a new order"
        )
    return 0


def _awaiting(cert: Certificate) -> str:
    """An order the CA holds (approval): not a failure. The issue worker is told to check back, if there is one."""
    from acmevault.app.awaiting import hand_back
    from acmevault.composition.services import queue
    from acmevault.domain.issue_message import IssueMessage

    state = cert.state
    followed = ""
    if settings().queue_url:
        hand_back(IssueMessage(cert.spec.name, "cli"), cert, datetime.now(UTC), queue())
        followed = "; the issue worker checks again then"
    return (
        f"awaiting the CA's approval since {state.awaiting_since:%Y-%m-%d %H:%M} UTC (the order is kept); "
        f"next check after {state.retry_at:%Y-%m-%d %H:%M:%S} UTC{followed}"
    )


def cert_delete(args: argparse.Namespace) -> int:
    """Stop managing a certificate, revoking it first with --revoke."""
    from acmevault.app.revocation import RevocationReason, delete_certificate

    reason = None if args.revoke is None else RevocationReason.parse(args.revoke, "--revoke")
    allowed = permit(args.name, services().certificates.get(args.name).spec.directory, "cert delete")
    revoked = delete_certificate(args.name, services(), reason)
    allowed.record()
    if revoked is not None:
        print(f"certificate {args.name}: serial {revoked.state.serial} revoked ({args.revoke})")
    print(f"certificate {args.name} is no longer managed (ACM and S3 copies are left in place)")
    return 0


def cert_reset(args: argparse.Namespace) -> int:
    """Discard the order in flight: the next attempt orders anew."""
    from acmevault.app.recovery import reset_certificate

    reset = reset_certificate(args.name, services())
    if reset.discarded is None:
        print(f"certificate {args.name} has no order in flight; nothing to discard")
    else:
        print(f"certificate {args.name}: order {reset.discarded.order_url} discarded; the next attempt orders anew")
    return 0


def cert_forget_region(args: argparse.Namespace) -> int:
    """Stop tracking an ACM region the spec no longer names (deleting its certificate with --delete)."""
    from acmevault.app.recovery import forget_region

    region = validate_region(args.region, "region")
    forget_region(args.name, region, services(), delete=args.delete)
    done = "deleted from ACM and forgotten" if args.delete else "forgotten (its ACM certificate is left in place)"
    print(f"certificate {args.name}: region {region} {done}")
    return 0


def cert_revoke(args: argparse.Namespace) -> int:
    """Revoke the serving certificate at the CA; the ACM and S3 copies are marked."""
    from acmevault.app.revocation import RevocationReason, revoke_certificate

    reason = RevocationReason.parse(args.reason, "--reason")
    allowed = permit(args.name, services().certificates.get(args.name).spec.directory, "cert revoke")
    revoked = revoke_certificate(args.name, reason, services())
    allowed.record()
    print(
        f"certificate {args.name}: serial {revoked.state.serial} revoked at the CA ({reason.value}, "
        f"RFC 5280 code {reason.code}); the ACM and S3 copies are marked; 'acmevault cert issue {args.name}' "
        "issues a new one"
    )
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """The actions of `acmevault cert` and their options."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = actions.add_parser(
        "put",
        help="create a certificate spec, or change the fields given",
        description="Create a certificate (-d and --directory required), or change only the given fields of "
        "an existing one. An empty value (--profile '') clears an optional field; -d and --acm-region given "
        "replace the whole list.",
    )
    put.add_argument("name")
    for spec_field, (flags, text, repeatable) in SPEC_OPTIONS.items():
        put.add_argument(*flags, dest=spec_field, help=text, action="append" if repeatable else "store")
    put.set_defaults(run=cert_put)
    for verb, text in (("issue", "issue now"), ("renew", "renew now (same as issue)")):
        issue = actions.add_parser(verb, help=text)
        issue.add_argument("name")
        issue.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, help="seconds (default %(default)s)")
        issue.set_defaults(run=cert_issue)
    listing = actions.add_parser("list", help="list certificates")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=cert_list)
    show = actions.add_parser("show", help="show one certificate")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=cert_show)
    delete = actions.add_parser("delete", help="stop managing a certificate")
    delete.add_argument("name")
    delete.add_argument("--revoke", metavar="REASON", help=f"revoke it first, with an RFC 5280 reason: {REASONS}")
    delete.set_defaults(run=cert_delete)
    reset = actions.add_parser("reset", help="discard the order in flight (the next attempt orders anew)")
    reset.add_argument("name")
    reset.set_defaults(run=cert_reset)
    forget = actions.add_parser("forget-region", help="stop tracking an ACM region the spec no longer names")
    forget.add_argument("name")
    forget.add_argument("region")
    forget.add_argument("--delete", action="store_true", help="delete its ACM certificate too (refused while in use)")
    forget.set_defaults(run=cert_forget_region)
    revoke = actions.add_parser("revoke", help="revoke the serving certificate at the CA")
    revoke.add_argument("name")
    revoke.add_argument("--reason", required=True, help=f"RFC 5280 reason: {REASONS}")
    revoke.set_defaults(run=cert_revoke)
