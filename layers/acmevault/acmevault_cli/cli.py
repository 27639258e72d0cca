"""The acmevault command: the same use cases as the Lambda functions, straight to AWS or the local stack.

Exit status 0 on success; otherwise exactly one line on stderr, saying what failed and what to do,
and 1 (2 for bad input); ``-v`` adds the detail. Every verb gets this from ``main``: a verb raises an
AcmeVaultError and returns 0. The EAB HMAC key is read from stdin or a hidden prompt, never from argv.
With ``--stack NAME`` (or ACMEVAULT_STACK) the settings come from that CloudFormation stack's outputs.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from acmevault.domain.errors import AcmeVaultError, CertificateNotFound, ConfigurationError, ValidationError
from acmevault.domain.quoting import argument_label
from acmevault.domain.redaction import redact

from acmevault_cli.output import EXIT_BAD_INPUT, EXIT_INTERRUPTED, Terminal

DEFAULT_TIMEOUT = 300.0
LOCAL_DIR = ".acmevault-local"
LOCAL_DNS_PORT = 14053


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def _table(rows: list[dict[str, Any]], columns: Sequence[str], styles: Sequence[str | None] = ()) -> None:
    """Columns padded to fit; a row's style (output.paint) colours it on a terminal only."""
    from acmevault_cli.output import paint, use_colour

    colour = use_colour(sys.stdout)
    cells = [[str(r.get(c) if r.get(c) is not None else "-") for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for index, row in enumerate(cells):
        line = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        print(paint(line, styles[index] if index < len(styles) else None, colour))


_TERMINAL = Terminal()


def _progress(message: str) -> None:
    """What is being done: a status line on a terminal, a line under -v; never part of a failure."""
    _TERMINAL.status(message)


def _services() -> Any:
    from acmevault.composition.services import services

    return services()


# -- directory ---------------------------------------------------------------------------------


def _read_hmac(args: argparse.Namespace) -> str:
    value = getpass.getpass("EAB HMAC key (input hidden): ") if sys.stdin.isatty() else sys.stdin.readline()
    value = value.strip()
    if not value:
        raise ValidationError("eab_hmac_key", "nothing was given on stdin or at the prompt")
    return value


def directory_put(args: argparse.Namespace) -> int:
    from acmevault.domain.directory import DirectoryCredential
    from acmevault.domain.validation import validate_name

    validate_name(args.name)
    credential = DirectoryCredential(
        directory_url=args.url,
        eab_kid=args.eab_kid,
        eab_hmac_key=_read_hmac(args) if args.eab_kid is not None else None,
        eab_hmac_alg=args.hmac_alg,
        contact=tuple(args.contact or ()),
        sxg=args.sxg,
    )
    _progress(f"registering an ACME account at {args.url} ...")
    stored = _services().accounts.vault(args.name, credential)
    kind = " (Signed HTTP Exchange: its certificates go to S3 only)" if stored.sxg else ""
    print(f"directory {args.name} vaulted{kind}; ACME account {stored.account_url}")
    return 0


def _directory_view(name: str, history: int = 0) -> dict[str, Any]:
    from acmevault.app.views import directory_detail
    from acmevault.composition.services import rotation

    return directory_detail(name, _services().directories, rotation().records, history)


def directory_list(args: argparse.Namespace) -> int:
    rows = [_directory_view(n) for n in _services().directories.list()]
    if args.json:
        _print_json(rows)
    else:
        _table(rows, ("name", "state", "host", "eab_kid", "account_url", "changed"))
    return 0


def directory_show(args: argparse.Namespace) -> int:
    view = _directory_view(args.name, history=20)
    if args.json:
        _print_json(view)
    else:
        history = view.pop("history")
        for key, value in view.items():
            if key == "status":  # registered or not: account_url says it
                continue
            print(f"{key:20} {value if value not in (None, [], {}) else '-'}")
        print("history (newest first):")
        for entry in history:
            facts = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("at", "actor", "action", "outcome"))
            print(f"  {entry['at'][:19]}  {entry['actor']}  {entry['action']}: {entry['outcome']}  {facts}".rstrip())
    return 0


def _actor() -> str:
    """Who is asking, for the audit history: the AWS principal and the local user."""
    import getpass

    from acmevault.adapters.aws.clients import client, translated

    user = getpass.getuser()
    try:
        with translated("asking AWS who the caller is"):
            return f"{client('sts').get_caller_identity()['Arn']} (cli, {user})"
    except AcmeVaultError:
        return f"cli, {user}"


def directory_rotate(args: argparse.Namespace) -> int:
    from acmevault.app.rotation import NewCredential, replace_credential, rotate_account_key
    from acmevault.composition.services import rotation
    from acmevault.domain.directory import DirectoryCredential
    from acmevault.domain.validation import validate_name

    validate_name(args.name)
    if args.url is None and (args.eab_kid is not None or args.contact):
        raise ValidationError("--url", "a new credential needs its directory URL too (--url URL --eab-kid KID)")
    if args.url is not None and args.certcentral:
        raise ValidationError("--certcentral", "give a new credential (--url, --eab-kid) or --certcentral, not both")
    if args.revoke_previous and args.url is None and not args.certcentral:
        raise ValidationError("--revoke-previous", "applies to a replaced credential (--url or --certcentral)")
    if args.url is None and not args.certcentral:
        _progress(f"rolling the ACME account key of {args.name} over ...")
        done = rotate_account_key(args.name, rotation(), _actor())
        print(f"directory {args.name}: account key rolled over ({done.account_url}); the old key no longer works")
        return 0
    credential = None
    if args.url is not None:
        credential = DirectoryCredential(
            directory_url=args.url,
            eab_kid=args.eab_kid,
            eab_hmac_key=_read_hmac(args) if args.eab_kid is not None else None,
            eab_hmac_alg=args.hmac_alg,
            contact=tuple(args.contact or ()),
        )
    _progress(f"replacing the credential of {args.name}: registering an ACME account at the new directory ...")
    request = NewCredential(credential, revoke_previous=args.revoke_previous)
    done = replace_credential(args.name, request, rotation(), _actor())
    print(
        f"directory {args.name}: credential replaced; ACME account {done.account_url}; "
        f"the previous account ({done.previous_account_url or '-'}) is deactivated and its certificates are "
        "queued for re-issue" + ("; each is revoked once its replacement is served" if done.revoke_previous else "")
    )
    return 0


def directory_revoke(args: argparse.Namespace) -> int:
    from acmevault.app.rotation import mark_lost
    from acmevault.composition.services import rotation

    state = mark_lost(args.name, rotation(), _actor(), args.reason)
    print(
        f"directory {args.name} is marked lost (since {state.changed_at:%Y-%m-%d %H:%M} UTC); its account is "
        f"deactivated and nothing is issued from it until you run: acmevault directory rotate {args.name} "
        "--url URL --eab-kid KID"
    )
    return 0


def directory_policy(args: argparse.Namespace) -> int:
    from acmevault.app.authorization import Caller
    from acmevault.domain.policy import DirectoryPolicy

    policy = DirectoryPolicy.parse(
        {"allowed_domains": args.allow_domain or [], "allowed_principals": args.allow_principal or []}
    )
    services = _services()
    permit = services.gate.admin_only(Caller.operator(_actor()), "directory policy", args.name)
    services.accounts.set_policy(args.name, policy, permit.caller.arn)  # noted in the directory's history
    domains = ", ".join(policy.allowed_domains) or "any name (no --allow-domain given)"
    principals = ", ".join(policy.allowed_principals) or "admins only (no --allow-principal given)"
    print(f"directory {args.name}: names allowed: {domains}; used by: {principals}")
    return 0


def directory_revoke_previous(args: argparse.Namespace) -> int:
    from acmevault.app.rotation import complete_revocations
    from acmevault.composition.services import rotation

    revoked = complete_revocations(args.name, rotation())
    waiting = _directory_view(args.name)["revocations_waiting"]
    print(
        f"revoked now: {', '.join(revoked) or 'none'}; still waiting for a replacement: {', '.join(waiting) or 'none'}"
    )
    return 0


# -- cert --------------------------------------------------------------------------------------


def _permit(name: str, directory: str, route: str) -> Any:
    """The operator's permit on a certificate: the CLI is an admin; recorded in its history once the change is made."""
    from acmevault.app.authorization import Caller

    return _services().gate.may_use_certificate(Caller.operator(_actor()), route, name, directory)


# Every field of a certificate spec (model.SPEC_FIELDS) as a `cert put` option: flags, help, repeatable.
# Values go through CertificateSpec.parse as the API's do, so the checks and messages are the API's.
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
    from acmevault.app.issuance import define_certificate
    from acmevault.domain.certificate import CertificateSpec
    from acmevault.domain.validation import validate_name

    services = _services()
    given = {f: _spec_value(f, getattr(args, f)) for f in SPEC_OPTIONS if getattr(args, f) is not None}
    try:
        current: dict[str, Any] = services.certificates.get(validate_name(args.name)).spec.to_dict()
    except CertificateNotFound:
        current = {}
    spec = CertificateSpec.parse(args.name, {**current, **given})
    # The operator's own credentials: an admin for routes; the directory's allowed_domains still apply.
    cert = define_certificate(spec, services, _permit(spec.name, spec.directory, "cert put"))
    verb = "changed" if current else "defined"
    print(f"certificate {cert.spec.name} {verb} ({', '.join(cert.spec.domains)}); status {cert.state.status.value}")
    return 0


# What needs a person's eye in `cert list`, most urgent first, with its colour on a terminal.
_ATTENTION_STYLES = {"expired": "red", "failing": "red", "expiring": "red", "awaiting CA": "cyan", "due": "yellow"}


def attention(cert: Any, now: datetime) -> list[str]:
    """Why a certificate needs looking at: expired, failing, expiring (a sixth of its lifetime left and not
    renewed), awaiting the CA (an order the CA is still approving), due for renewal; [] when none."""
    from acmevault.app.issuance import is_due

    state, marks = cert.state, []
    if state.not_after is not None and state.not_after <= now:
        marks.append("expired")
    if state.consecutive_failures or state.status.value == "failed":
        marks.append(f"failing ({state.consecutive_failures or 1} in a row)")
    if state.alert_at is not None and state.alert_at <= now and "expired" not in marks:
        marks.append("expiring")
    if state.status.value == "awaiting_ca":
        marks.append("awaiting CA")
    elif is_due(cert, now):
        marks.append("due")
    return marks


def _days_left(cert: Any, now: datetime) -> int | None:
    not_after = cert.state.not_after
    return None if not_after is None else int((not_after - now).total_seconds() // 86400)


def _cert_row(cert: Any, now: datetime | None = None) -> dict[str, Any]:
    state, now = cert.state, now or datetime.now(UTC)
    return {
        "name": cert.spec.name,
        "names": ",".join(cert.spec.domains),
        "key_type": cert.spec.key_type.value,
        "status": state.status.value + (f" ({_waited(state.awaiting_since)})" if state.awaiting_since else ""),
        "days": _days_left(cert, now),
        "attention": ", ".join(attention(cert, now)) or None,
        "serial": state.serial,
        "not_after": state.not_after.strftime("%Y-%m-%d %H:%M") if state.not_after else None,
        "renew_at": state.renew_at.strftime("%Y-%m-%d %H:%M") if state.renew_at else None,
        "acm_arn": next(iter(state.acm_arns.values()), None),
        "s3_prefix": state.s3_prefix,
        "last_error": state.last_error,
    }


def _waited(since: datetime) -> str:
    from acmevault.app.awaiting import format_wait

    return format_wait(max(0, int((datetime.now(UTC) - since).total_seconds())))


def _cert_json(cert: Any) -> dict[str, Any]:
    from acmevault.app.views import certificate_view

    return certificate_view(cert, _services().default_acm_regions)


def cert_list(args: argparse.Namespace) -> int:
    certs = list(_services().certificates.all())
    if args.json:
        _print_json([_cert_json(c) for c in certs])
    else:
        now = datetime.now(UTC)
        columns = ("name", "names", "key_type", "status", "days", "attention", "serial", "not_after", "acm_arn")
        styles = [next((_ATTENTION_STYLES[m.split(" (")[0]] for m in attention(c, now)), None) for c in certs]
        _table([_cert_row(c, now) for c in certs], columns, styles)
    return 0


def cert_show(args: argparse.Namespace) -> int:
    cert = _services().certificates.get(args.name)
    view = _cert_json(cert)
    if args.json:
        _print_json(view)
        return 0
    structured = ("acm_arns", "regions", "dropped_regions", "pending_order", "locked_until")
    for key, value in view.items():
        if key not in structured:
            print(f"{key:21} {value if value not in (None, [], {}) else '-'}")
    for region, r in view["regions"].items():
        dropped = ", dropped from the spec" if region in view["dropped_regions"] else ""
        error = f" ({r['error']})" if r["error"] else ""
        print(f"{'region ' + region:21} {r['status']}{dropped}{error}: serial {r['serial']}, {r['arn']}")
    pending = view["pending_order"]
    if pending:
        state = "downloaded, not yet served" if pending["downloaded"] else "placed"
        names = ", ".join(pending["domains"] or ["?"])
        print(f"{'pending order':21} {state} for {names}: {pending['order_url']} ('acmevault cert reset' discards it)")
    if view["locked_until"]:
        print(f"locked by another worker until {view['locked_until']} (when its lease expires)")
    for region in view["dropped_regions"]:
        print(
            f"region {region} is no longer in the spec: its ACM certificate is left in place and not renewed "
            f"('acmevault cert forget-region {args.name} {region} [--delete]')"
        )
    return 0


def cert_reset(args: argparse.Namespace) -> int:
    from acmevault.app.recovery import reset_certificate

    reset = reset_certificate(args.name, _services())
    if reset.discarded is None:
        print(f"certificate {args.name} has no order in flight; nothing to discard")
    else:
        print(f"certificate {args.name}: order {reset.discarded.order_url} discarded; the next attempt orders anew")
    return 0


def cert_forget_region(args: argparse.Namespace) -> int:
    from acmevault.app.recovery import forget_region
    from acmevault.domain.validation import validate_region

    region = validate_region(args.region, "region")
    forget_region(args.name, region, _services(), delete=args.delete)
    done = "deleted from ACM and forgotten" if args.delete else "forgotten (its ACM certificate is left in place)"
    print(f"certificate {args.name}: region {region} {done}")
    return 0


def _check_timeout(timeout: float) -> float:
    """A worker must finish within its lease: past it, another worker may take the certificate over."""
    from acmevault.app.issuance import LEASE_SECONDS

    if not 0 < timeout <= LEASE_SECONDS:
        raise ValidationError("--timeout", f"{timeout:g} s is not within the lease (0 to {LEASE_SECONDS:g} s)")
    return timeout


def cert_issue(args: argparse.Namespace) -> int:
    """Issue (or renew) one certificate now, through the same code as IssueFunction."""
    from acmevault.app.issuance import issue_certificate

    timeout = _check_timeout(args.timeout)
    started = time.monotonic()
    _progress(f"issuing {args.name} ...")
    cert = issue_certificate(args.name, _services(), time.monotonic() + timeout)
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


def _awaiting(cert: Any) -> str:
    """An order the CA holds (approval): not a failure. The issue worker is told to check back, if there is one."""
    from acmevault.adapters.aws.queue import IssueMessage
    from acmevault.app.awaiting import hand_back
    from acmevault.composition.config import settings
    from acmevault.composition.services import queue

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
    from acmevault.app.revocation import RevocationReason, delete_certificate

    reason = None if args.revoke is None else RevocationReason.parse(args.revoke, "--revoke")
    permit = _permit(args.name, _services().certificates.get(args.name).spec.directory, "cert delete")
    revoked = delete_certificate(args.name, _services(), reason)
    permit.record()
    if revoked is not None:
        print(f"certificate {args.name}: serial {revoked.state.serial} revoked ({args.revoke})")
    print(f"certificate {args.name} is no longer managed (ACM and S3 copies are left in place)")
    return 0


def cert_revoke(args: argparse.Namespace) -> int:
    from acmevault.app.revocation import RevocationReason, revoke_certificate

    reason = RevocationReason.parse(args.reason, "--reason")
    permit = _permit(args.name, _services().certificates.get(args.name).spec.directory, "cert revoke")
    revoked = revoke_certificate(args.name, reason, _services())
    permit.record()
    print(
        f"certificate {args.name}: serial {revoked.state.serial} revoked at the CA ({reason.value}, "
        f"RFC 5280 code {reason.code}); the ACM and S3 copies are marked; 'acmevault cert issue {args.name}' "
        "issues a new one"
    )
    return 0


def renew(args: argparse.Namespace) -> int:
    if not args.due:
        raise ValidationError("--due", "say which certificates to renew: 'acmevault renew --due'")
    _check_timeout(args.timeout)
    from acmevault.app.renewal import ISSUED_REGION_FAILING, renew_due

    services = _services()
    now = datetime.now(UTC)
    total = sum(1 for _ in services.certificates.due(now))
    if not total:
        print("no certificate is due for renewal")
        return 0
    bar = _ProgressBar(total, failing=("failed", ISSUED_REGION_FAILING))
    outcomes = renew_due(services, now, args.timeout, workers=args.workers, progress=bar.step)
    bar.done()
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    print(f"{sum(outcomes.values())} certificates looked at: {summary}")
    if bar.failed_names:
        shown = ", ".join(sorted(bar.failed_names)[:5]) + (", ..." if len(bar.failed_names) > 5 else "")
        raise AcmeVaultError(
            f"{len(bar.failed_names)} of {total} failed or are not in every ACM region ({shown}); "
            "'acmevault cert show NAME' has each one's error"
        )
    return 0


class _ProgressBar:
    """A one-line progress bar on stderr (a line per certificate when stderr is not a terminal)."""

    def __init__(self, total: int, failing: Sequence[str] = ("failed",)) -> None:
        self.total, self.count, self.failed = total, 0, 0
        self.failing = failing  # the outcomes that make the sweep fail
        self.failed_names: list[str] = []
        self.tty = sys.stderr.isatty()
        self._lock = threading.Lock()

    def step(self, name: str, outcome: str) -> None:
        with self._lock:
            self.count += 1
            self.failed += outcome == "failed"
            if outcome in self.failing:
                self.failed_names.append(name)
            if self.tty:
                filled = 30 * self.count // self.total
                bar = "#" * filled + "." * (30 - filled)
                print(
                    f"\r[{bar}] {self.count}/{self.total} ({self.failed} failed) {name[:30]:30}",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
            else:
                _progress(f"[{self.count}/{self.total}] {name}: {outcome}")

    def done(self) -> None:
        if self.tty:
            print(file=sys.stderr)


# -- local -------------------------------------------------------------------------------------


def _stack(args: argparse.Namespace) -> Any:
    from acmevault_cli.local.stack import LocalStack

    dns_port = LOCAL_DNS_PORT if getattr(args, "real_dns", False) else None
    return LocalStack(Path(args.state_dir).resolve(), listen=getattr(args, "listen", "127.0.0.1"), dns_port=dns_port)


def local_up(args: argparse.Namespace) -> int:
    _progress("starting Pebble (EAB required) and moto on 127.0.0.1 ...")
    variables = _stack(args).up()
    _TERMINAL.clear()
    for key, value in variables.items():
        print(f"export {key}={value}")
    print(
        f"# local stack up (CloudFormation stack {_stack(args).name} in moto, for --stack); state in "
        f"{args.state_dir}; stop it with 'acmevault local down'"
    )
    return 0


def local_down(args: argparse.Namespace) -> int:
    stopped = _stack(args).down()
    print(f"stopped: {', '.join(stopped) or 'nothing was running'}")
    return 0


def local_invoke(args: argparse.Namespace) -> int:
    from acmevault_cli.local.invoke import find_function, invoke, load_event

    definition = find_function(Path(args.template), args.function)
    event = load_event(Path(args.event))
    try:
        result = invoke(definition, event, _stack(args).env())
    except Exception as error:  # reported the way Lambda reports a function error, then as a failure
        first_line = (str(error).splitlines() or [""])[0]
        _print_json({"errorType": type(error).__name__, "errorMessage": first_line})
        raise AcmeVaultError(f"{definition.logical_id} raised {type(error).__name__}: {first_line}") from error
    _print_json(result)
    return 0


# -- parser ------------------------------------------------------------------------------------


# ASCII digits only: float() and int() also take other scripts' digits, and float() 'nan' and 'inf'.
_SECONDS = re.compile(r"\A[0-9]{1,6}(\.[0-9]{1,3})?\Z", re.ASCII)
_COUNT = re.compile(r"\A[0-9]{1,3}\Z", re.ASCII)


def _seconds(text: str) -> float:
    if not _SECONDS.fullmatch(text) or float(text) <= 0:
        raise argparse.ArgumentTypeError("must be a number of seconds, such as 300 or 0.5")
    return float(text)


def _count(text: str) -> int:
    if not _COUNT.fullmatch(text) or int(text) < 1:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 999")
    return int(text)


class BadUsage(Exception):
    """argparse found the command line wrong: reported in one line like every other failure."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog, self.message = prog, message


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error raised (one line from main, redacted) rather than printed with the usage."""

    def error(self, message: str) -> NoReturn:
        raise BadUsage(self.prog, redact(message))  # usage errors quote what was typed


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="acmevault",
        description="Vault ACME directory credentials and keep certificates fresh in ACM and S3.",
    )
    _global_options(parser, os.environ.get("ACMEVAULT_STACK") or None, None, False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    directory = commands.add_parser("directory", help="ACME directory credentials").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    put = directory.add_parser(
        "put",
        help="vault a credential and register the ACME account",
        description="Vault a directory credential. The HMAC key is read from stdin or a hidden prompt.",
    )
    put.add_argument("name")
    put.add_argument("--url", required=True, help="the ACME directory URL (https)")
    put.add_argument("--eab-kid", help="the External Account Binding key id")
    put.add_argument("--hmac-alg", default="HS256", choices=("HS256", "HS384", "HS512"))
    put.add_argument(
        "--sxg",
        action="store_true",
        help="a DigiCert Signed HTTP Exchange directory: ec-p256, at most 90 days, CanSignHttpExchanges, S3 only",
    )
    put.add_argument("--contact", action="append", metavar="mailto:...", help="account contact (repeatable)")
    put.set_defaults(run=directory_put)
    ls = directory.add_parser("list", help="list vaulted directories")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=directory_list)
    show = directory.add_parser("show", help="show one directory (never its HMAC or account key)")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=directory_show)
    rot = directory.add_parser(
        "rotate",
        help="roll the account key over, or replace a lost credential",
        description="Without a new credential: roll the ACME account over to a new key (RFC 8555 key change). "
        "With --url and --eab-kid (the HMAC key read from stdin or a hidden prompt), or --certcentral: replace "
        "a lost credential; the old account is deactivated and its certificates are re-issued. Running an "
        "interrupted rotation again resumes it.",
    )
    rot.add_argument("name")
    rot.add_argument("--url", help="the new ACME directory URL (https)")
    rot.add_argument("--eab-kid", help="the new External Account Binding key id")
    rot.add_argument("--hmac-alg", default="HS256", choices=("HS256", "HS384", "HS512"))
    rot.add_argument("--contact", action="append", metavar="mailto:...", help="account contact (repeatable)")
    rot.add_argument("--certcentral", action="store_true", help="have DigiCert CertCentral make the new credential")
    rot.add_argument(
        "--revoke-previous",
        action="store_true",
        help="revoke the old account's certificates, each once its replacement is in ACM and S3",
    )
    rot.set_defaults(run=directory_rotate)
    rev = directory.add_parser(
        "revoke", help="mark the credential lost: deactivate its account and stop issuing from it"
    )
    rev.add_argument("name")
    rev.add_argument("--reason", help="why, for the history and the alert (no secrets)")
    rev.set_defaults(run=directory_revoke)
    pol = directory.add_parser(
        "policy",
        help="set who may use a directory, for which names (the whole policy each time)",
        description="Replace the directory's policy. A name is allowed when it equals an --allow-domain or lies "
        "under it (*.a.b counts as a.b); with no --allow-domain, any name. --allow-principal is an IAM ARN pattern "
        "(fnmatch) of who besides the admins may use the directory's certificates through the API; an assumed-role "
        "session matches as its role. With none, only admins may use it.",
    )
    pol.add_argument("name")
    pol.add_argument("--allow-domain", action="append", metavar="DOMAIN", help="an allowed domain (repeatable)")
    pol.add_argument(
        "--allow-principal", action="append", metavar="ARN", help="an allowed principal ARN pattern (repeatable)"
    )
    pol.set_defaults(run=directory_policy)
    revp = directory.add_parser(
        "revoke-previous",
        help="revoke a replaced account's certificates whose replacements are served (the rotate function "
        "does this by itself in AWS)",
    )
    revp.add_argument("name")
    revp.set_defaults(run=directory_revoke_previous)

    cert = commands.add_parser("cert", help="certificates").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    cput = cert.add_parser(
        "put",
        help="create a certificate spec, or change the fields given",
        description="Create a certificate (-d and --directory required), or change only the given fields of "
        "an existing one. An empty value (--profile '') clears an optional field; -d and --acm-region given "
        "replace the whole list.",
    )
    cput.add_argument("name")
    for spec_field, (flags, text, repeatable) in SPEC_OPTIONS.items():
        cput.add_argument(*flags, dest=spec_field, help=text, action="append" if repeatable else "store")
    cput.set_defaults(run=cert_put)
    for verb, text in (("issue", "issue now"), ("renew", "renew now (same as issue)")):
        sub = cert.add_parser(verb, help=text)
        sub.add_argument("name")
        sub.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, help="seconds (default %(default)s)")
        sub.set_defaults(run=cert_issue)
    cls = cert.add_parser("list", help="list certificates")
    cls.add_argument("--json", action="store_true")
    cls.set_defaults(run=cert_list)
    cshow = cert.add_parser("show", help="show one certificate")
    cshow.add_argument("name")
    cshow.add_argument("--json", action="store_true")
    cshow.set_defaults(run=cert_show)
    reasons = ", ".join(("unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"))
    cdel = cert.add_parser("delete", help="stop managing a certificate")
    cdel.add_argument("name")
    cdel.add_argument("--revoke", metavar="REASON", help=f"revoke it first, with an RFC 5280 reason: {reasons}")
    cdel.set_defaults(run=cert_delete)
    crst = cert.add_parser("reset", help="discard the order in flight (the next attempt orders anew)")
    crst.add_argument("name")
    crst.set_defaults(run=cert_reset)
    cfr = cert.add_parser("forget-region", help="stop tracking an ACM region the spec no longer names")
    cfr.add_argument("name")
    cfr.add_argument("region")
    cfr.add_argument("--delete", action="store_true", help="delete its ACM certificate too (refused while in use)")
    cfr.set_defaults(run=cert_forget_region)
    crev = cert.add_parser("revoke", help="revoke the serving certificate at the CA")
    crev.add_argument("name")
    crev.add_argument("--reason", required=True, help=f"RFC 5280 reason: {reasons}")
    crev.set_defaults(run=cert_revoke)

    rn = commands.add_parser("renew", help="the scheduled sweep, run here")
    rn.add_argument("--due", action="store_true", help="renew every certificate whose renewal time has come")
    rn.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, help="seconds per certificate")
    rn.add_argument("--workers", type=_count, default=8, help="certificates worked at once (default %(default)s)")
    rn.set_defaults(run=renew)

    local = commands.add_parser("local", help="the local stack (Pebble + moto)").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    state_dir = os.environ.get("ACMEVAULT_LOCAL_STATE", LOCAL_DIR)
    up = local.add_parser("up", help='start it and print export lines: eval "$(acmevault local up)"')
    up.add_argument(
        "--listen",
        default="127.0.0.1",
        help="address to listen on (0.0.0.0 for sam local invoke in Docker; default %(default)s)",
    )
    up.add_argument(
        "--real-dns",
        action="store_true",
        help=f"Pebble really checks dns-01: it looks records up in a DNS server on 127.0.0.1:{LOCAL_DNS_PORT} "
        "that reads Route 53 (moto)",
    )
    down = local.add_parser("down", help="stop it")
    inv = local.add_parser("invoke", help="run a function's handler with an event, as sam local invoke")
    inv.add_argument("function", help="logical id (IssueFunction) or folder name (issue)")
    inv.add_argument("-e", "--event", required=True, help="event JSON file")
    inv.add_argument("-t", "--template", default="template.yaml")
    for sub, run in ((up, local_up), (down, local_down), (inv, local_invoke)):
        sub.add_argument("--state-dir", default=state_dir, help="where the stack keeps its files (%(default)s)")
        sub.set_defaults(run=run)
    _everywhere(parser)
    return parser


def _global_options(parser: argparse.ArgumentParser, stack: Any, region: Any, verbose: Any) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", default=verbose, help="log what is being done, and a failure's detail"
    )
    parser.add_argument(
        "--stack",
        default=stack,
        metavar="NAME",
        help="the deployed CloudFormation stack to work on: its outputs name the table, bucket, key, queue and "
        "topic (default: ACMEVAULT_STACK; without either, the ACMEVAULT_* variables)",
    )
    parser.add_argument(
        "--region",
        dest="aws_region",  # not "region": a verb may take a region of its own (an ACM region)
        default=region,
        help="the stack's AWS region (default: AWS_REGION, or your AWS config's)",
    )


def _everywhere(parser: argparse.ArgumentParser) -> None:
    """-v, --stack and --region after the verb too (`acmevault cert list --stack prod`), as aws takes --region:
    on every verb, without a default of their own, so one given before the verb stands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                    _everywhere(sub)
                else:
                    _global_options(sub, argparse.SUPPRESS, argparse.SUPPRESS, argparse.SUPPRESS)


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (the CLI may run in-process, under a test runner)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"acmevault: {record.levelname.lower()}: {redact(record.getMessage())}", file=sys.stderr)


def _log_to_stderr(level: int) -> None:
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _StderrHandler)), None)
    if handler is None:
        handler = _StderrHandler()
        root.addHandler(handler)
    handler.setLevel(level)
    if root.level > level:
        root.setLevel(level)


_SECRET_FLAGS = ("--eab-hmac", "--hmac-key", "--hmac=", "--eab-hmac-key")


def _subject(args: argparse.Namespace) -> str:
    """What was being done, for the failure line: 'cert issue web'."""
    from acmevault.domain.validation import NAME_PATTERN

    name = getattr(args, "name", None)
    if isinstance(name, str) and not NAME_PATTERN.fullmatch(name):
        name = None  # an invalid NAME is quoted safely by its own error, never echoed here
    words = [getattr(args, "command", None), getattr(args, "action", None), name]
    return " ".join(str(w) for w in words if w)


@contextmanager
def _deployed_stack(args: argparse.Namespace) -> Iterator[None]:
    """With --stack (or ACMEVAULT_STACK) and --region: the settings from the stack's outputs, for this call."""
    if args.command == "local" or not (args.stack or args.aws_region):
        yield
        return
    from acmevault.composition import config, services

    from acmevault_cli.stack import environment

    region = args.aws_region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or _aws_region()
    if not region:
        raise ConfigurationError("no AWS region: pass --region, set AWS_REGION, or set one in your AWS config")
    overlay = environment(args.stack, region) if args.stack else {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    saved = {key: os.environ.get(key) for key in overlay}
    os.environ.update(overlay)
    _forget_settings(config, services)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _forget_settings(config, services)


def _aws_region() -> str | None:
    import boto3

    return boto3.session.Session().region_name


def _forget_settings(config: Any, services: Any) -> None:
    # The settings and the adapters built from them are read once per process; the stack changes them.
    config.settings.cache_clear()
    for built in (services.services, services.queue, services.rotation):
        built.cache_clear()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure ends here as exactly one line on stderr (see acmevault_cli.output)."""
    global _TERMINAL
    argv = list(sys.argv[1:] if argv is None else argv)
    _TERMINAL = Terminal(verbose="-v" in argv or "--verbose" in argv)
    if any(a.startswith(_SECRET_FLAGS) for a in argv):
        never = "the EAB HMAC key is never taken from the command line; pipe it on stdin"
        return _TERMINAL.report("", never, EXIT_BAD_INPUT)
    try:
        args, unknown = build_parser().parse_known_args(argv)
    except BadUsage as usage:
        subject = usage.prog.removeprefix("acmevault").strip()
        return _TERMINAL.report(subject, usage.message, EXIT_BAD_INPUT, f"see '{usage.prog} --help'")
    if unknown:
        # Named when they look like an option or a word; a pasted secret is described by its length.
        shown = ", ".join(argument_label(a) for a in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        what = f"{len(unknown)} unrecognised argument(s): {shown}"
        return _TERMINAL.report(_subject(args), what, EXIT_BAD_INPUT, "see --help")
    _TERMINAL.verbose = args.verbose
    _log_to_stderr(logging.INFO if args.verbose else logging.CRITICAL + 1)
    try:
        if getattr(args, "name", None) is not None:
            from acmevault.domain.validation import validate_name

            validate_name(args.name)  # every NAME argument, before anything looks it up
        with _deployed_stack(args):
            return int(args.run(args))
    except KeyboardInterrupt:
        _TERMINAL.fail(_subject(args), AcmeVaultError("interrupted"))
        return EXIT_INTERRUPTED
    except AcmeVaultError as error:
        return _TERMINAL.fail(_subject(args), error)
    except Exception as error:  # noqa: BLE001 - the command's last word: one line, the traceback under -v
        return _TERMINAL.fail(_subject(args), error)
    finally:
        _TERMINAL.clear()


if __name__ == "__main__":
    sys.exit(main())
