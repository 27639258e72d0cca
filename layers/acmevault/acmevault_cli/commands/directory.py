"""`acmevault directory`: vault a credential, list and show directories, rotate or revoke a credential,
set a directory's policy, and revoke what a replaced account issued.

The EAB HMAC key is read from stdin or a hidden prompt, never from argv. `list` and `show` render the
same view as the API's GET /directories/{name} (``acmevault.app.views.directory_detail``).
"""

from __future__ import annotations

import argparse
from typing import Any

from acmevault.app.authorization import Caller
from acmevault.app.views import directory_detail
from acmevault.domain.directory import DirectoryCredential
from acmevault.domain.errors import ValidationError
from acmevault.domain.policy import DirectoryPolicy
from acmevault.domain.validation import validate_name

from acmevault_cli.operator import actor, read_hmac, rotation, services
from acmevault_cli.output import print_json, print_table, progress

LIST_COLUMNS = ("name", "state", "host", "eab_kid", "account_url", "changed")
SHOW_HISTORY = 20  # audit entries `directory show` prints


def _view(name: str, history: int = 0) -> dict[str, Any]:
    return directory_detail(name, services().directories, rotation().records, history)


def directory_put(args: argparse.Namespace) -> int:
    """Vault a credential and register its ACME account."""
    validate_name(args.name)
    credential = DirectoryCredential(
        directory_url=args.url,
        eab_kid=args.eab_kid,
        eab_hmac_key=read_hmac() if args.eab_kid is not None else None,
        eab_hmac_alg=args.hmac_alg,
        contact=tuple(args.contact or ()),
        sxg=args.sxg,
    )
    progress(f"registering an ACME account at {args.url} ...")
    stored = services().accounts.vault(args.name, credential)
    kind = " (Signed HTTP Exchange: its certificates go to S3 only)" if stored.sxg else ""
    print(f"directory {args.name} vaulted{kind}; ACME account {stored.account_url}")
    return 0


def directory_list(args: argparse.Namespace) -> int:
    """Every vaulted directory: a table, or the views as JSON."""
    rows = [_view(name) for name in services().directories.list()]
    if args.json:
        print_json(rows)
    else:
        print_table(rows, LIST_COLUMNS)
    return 0


def directory_show(args: argparse.Namespace) -> int:
    """One directory (never its HMAC or account key), with its newest history."""
    view = _view(args.name, history=SHOW_HISTORY)
    if args.json:
        print_json(view)
        return 0
    history = view.pop("history")
    del view["status"]  # registered or not: account_url says it
    for key, value in view.items():
        print(f"{key:20} {value if value not in (None, [], {}) else '-'}")
    print("history (newest first):")
    for entry in history:
        facts = ", ".join(f"{k}={v}" for k, v in entry.items() if k not in ("at", "actor", "action", "outcome"))
        print(f"  {entry['at'][:19]}  {entry['actor']}  {entry['action']}: {entry['outcome']}  {facts}".rstrip())
    return 0


def directory_rotate(args: argparse.Namespace) -> int:
    """Roll the account key over, or replace a lost credential (from the operator, or CertCentral)."""
    from acmevault.app.rotation import NewCredential, replace_credential, rotate_account_key

    validate_name(args.name)
    if args.url is None and (args.eab_kid is not None or args.contact):
        raise ValidationError("--url", "a new credential needs its directory URL too (--url URL --eab-kid KID)")
    if args.url is not None and args.certcentral:
        raise ValidationError("--certcentral", "give a new credential (--url, --eab-kid) or --certcentral, not both")
    if args.revoke_previous and args.url is None and not args.certcentral:
        raise ValidationError("--revoke-previous", "applies to a replaced credential (--url or --certcentral)")
    if args.url is None and not args.certcentral:
        progress(f"rolling the ACME account key of {args.name} over ...")
        done = rotate_account_key(args.name, rotation(), actor())
        print(f"directory {args.name}: account key rolled over ({done.account_url}); the old key no longer works")
        return 0
    credential = None
    if args.url is not None:
        credential = DirectoryCredential(
            directory_url=args.url,
            eab_kid=args.eab_kid,
            eab_hmac_key=read_hmac() if args.eab_kid is not None else None,
            eab_hmac_alg=args.hmac_alg,
            contact=tuple(args.contact or ()),
        )
    progress(f"replacing the credential of {args.name}: registering an ACME account at the new directory ...")
    request = NewCredential(credential, revoke_previous=args.revoke_previous)
    done = replace_credential(args.name, request, rotation(), actor())
    print(
        f"directory {args.name}: credential replaced; ACME account {done.account_url}; "
        f"the previous account ({done.previous_account_url or '-'}) is deactivated and its certificates are "
        "queued for re-issue" + ("; each is revoked once its replacement is served" if done.revoke_previous else "")
    )
    return 0


def directory_revoke(args: argparse.Namespace) -> int:
    """Mark the credential lost: deactivate its account and stop issuing from it."""
    from acmevault.app.rotation import mark_lost

    state = mark_lost(args.name, rotation(), actor(), args.reason)
    print(
        f"directory {args.name} is marked lost (since {state.changed_at:%Y-%m-%d %H:%M} UTC); its account is "
        f"deactivated and nothing is issued from it until you run: acmevault directory rotate {args.name} "
        "--url URL --eab-kid KID"
    )
    return 0


def directory_policy(args: argparse.Namespace) -> int:
    """Replace the directory's whole policy: the names it may issue for, who may use it."""
    policy = DirectoryPolicy.parse(
        {"allowed_domains": args.allow_domain or [], "allowed_principals": args.allow_principal or []}
    )
    permit = services().gate.admin_only(Caller.operator(actor()), "directory policy", args.name)
    services().accounts.set_policy(args.name, policy, permit.caller.arn)  # noted in the directory's history
    domains = ", ".join(policy.allowed_domains) or "any name (no --allow-domain given)"
    principals = ", ".join(policy.allowed_principals) or "admins only (no --allow-principal given)"
    print(f"directory {args.name}: names allowed: {domains}; used by: {principals}")
    return 0


def directory_revoke_previous(args: argparse.Namespace) -> int:
    """Revoke the replaced account's certificates whose replacements are served."""
    from acmevault.app.rotation import complete_revocations

    revoked = complete_revocations(args.name, rotation())
    waiting = _view(args.name)["revocations_waiting"]
    print(
        f"revoked now: {', '.join(revoked) or 'none'}; still waiting for a replacement: {', '.join(waiting) or 'none'}"
    )
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    """The actions of `acmevault directory` and their options."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    put = actions.add_parser(
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
    listing = actions.add_parser("list", help="list vaulted directories")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=directory_list)
    show = actions.add_parser("show", help="show one directory (never its HMAC or account key)")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(run=directory_show)
    rotate = actions.add_parser(
        "rotate",
        help="roll the account key over, or replace a lost credential",
        description="Without a new credential: roll the ACME account over to a new key (RFC 8555 key change). "
        "With --url and --eab-kid (the HMAC key read from stdin or a hidden prompt), or --certcentral: replace "
        "a lost credential; the old account is deactivated and its certificates are re-issued. Running an "
        "interrupted rotation again resumes it.",
    )
    rotate.add_argument("name")
    rotate.add_argument("--url", help="the new ACME directory URL (https)")
    rotate.add_argument("--eab-kid", help="the new External Account Binding key id")
    rotate.add_argument("--hmac-alg", default="HS256", choices=("HS256", "HS384", "HS512"))
    rotate.add_argument("--contact", action="append", metavar="mailto:...", help="account contact (repeatable)")
    rotate.add_argument("--certcentral", action="store_true", help="have DigiCert CertCentral make the new credential")
    rotate.add_argument(
        "--revoke-previous",
        action="store_true",
        help="revoke the old account's certificates, each once its replacement is in ACM and S3",
    )
    rotate.set_defaults(run=directory_rotate)
    revoke = actions.add_parser(
        "revoke", help="mark the credential lost: deactivate its account and stop issuing from it"
    )
    revoke.add_argument("name")
    revoke.add_argument("--reason", help="why, for the history and the alert (no secrets)")
    revoke.set_defaults(run=directory_revoke)
    policy = actions.add_parser(
        "policy",
        help="set who may use a directory, for which names (the whole policy each time)",
        description="Replace the directory's policy. A name is allowed when it equals an --allow-domain or lies "
        "under it (*.a.b counts as a.b); with no --allow-domain, any name. --allow-principal is an IAM ARN pattern "
        "(fnmatch) of who besides the admins may use the directory's certificates through the API; an assumed-role "
        "session matches as its role. With none, only admins may use it.",
    )
    policy.add_argument("name")
    policy.add_argument("--allow-domain", action="append", metavar="DOMAIN", help="an allowed domain (repeatable)")
    policy.add_argument(
        "--allow-principal", action="append", metavar="ARN", help="an allowed principal ARN pattern (repeatable)"
    )
    policy.set_defaults(run=directory_policy)
    previous = actions.add_parser(
        "revoke-previous",
        help="revoke a replaced account's certificates whose replacements are served (the rotate function "
        "does this by itself in AWS)",
    )
    previous.add_argument("name")
    previous.set_defaults(run=directory_revoke_previous)
