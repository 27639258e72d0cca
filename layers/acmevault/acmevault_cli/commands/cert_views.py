"""What `acmevault cert list` and `cert show` print: a table with what needs a person's eye, or the
certificate as the API shows it (``acmevault.app.views.certificate_view``), as text or JSON.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from acmevault.app.awaiting import format_wait
from acmevault.app.views import certificate_view
from acmevault.domain.certificate import Certificate, is_due

from acmevault_cli.operator import services
from acmevault_cli.output import print_json, print_table

LIST_COLUMNS = ("name", "names", "key_type", "status", "days", "attention", "serial", "not_after", "acm_arn")
# What needs a person's eye in `cert list`, most urgent first, with its colour on a terminal.
_ATTENTION_STYLES = {"expired": "red", "failing": "red", "expiring": "red", "awaiting CA": "cyan", "due": "yellow"}
# Fields of the view `cert show` prints as lines of their own, after the plain ones.
_STRUCTURED = ("acm_arns", "regions", "dropped_regions", "pending_order", "locked_until")


def attention(cert: Certificate, now: datetime) -> list[str]:
    """Why a certificate needs looking at: expired, failing, expiring (a sixth of its lifetime left and not
    renewed), awaiting the CA (an order the CA is still approving), due for renewal; [] when none."""
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


def _days_left(cert: Certificate, now: datetime) -> int | None:
    not_after = cert.state.not_after
    return None if not_after is None else int((not_after - now).total_seconds() // 86400)


def _waited(since: datetime) -> str:
    return format_wait(max(0, int((datetime.now(UTC) - since).total_seconds())))


def _row(cert: Certificate, now: datetime) -> dict[str, Any]:
    state = cert.state
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


def _view(cert: Certificate) -> dict[str, Any]:
    return certificate_view(cert, services().default_acm_regions)


def cert_list(args: argparse.Namespace) -> int:
    """Every certificate: a table (coloured by what needs attention on a terminal), or the views as JSON."""
    certs = list(services().certificates.all())
    if args.json:
        print_json([_view(c) for c in certs])
    else:
        now = datetime.now(UTC)
        styles = [next((_ATTENTION_STYLES[m.split(" (")[0]] for m in attention(c, now)), None) for c in certs]
        print_table([_row(c, now) for c in certs], LIST_COLUMNS, styles)
    return 0


def cert_show(args: argparse.Namespace) -> int:
    """One certificate: its fields, each region, the order in flight and the lease, or its view as JSON."""
    view = _view(services().certificates.get(args.name))
    if args.json:
        print_json(view)
        return 0
    for key, value in view.items():
        if key not in _STRUCTURED:
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
