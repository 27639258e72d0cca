"""What a rotation asks the CA about a credential set's account: does the CA hold its key, does the set
work, and deactivating the account of a set that is lost or replaced."""

from __future__ import annotations

from enum import StrEnum

from acmevault.app.rotation.services import RotationServices
from acmevault.domain.directory import AccountStatus, DirectoryCredential
from acmevault.domain.errors import CaError, Unauthorized


class Deactivation(StrEnum):
    """What became of an account acmevault deactivated (in the history and the "Directory Revoked" event)."""

    DEACTIVATED = "deactivated"
    REFUSED = "refused by the CA (deactivated already)"
    NO_ACCOUNT = "no account"  # the set never registered one
    NO_PREVIOUS_ACCOUNT = "no previous account"  # the replaced version is gone


def deactivate(credential: DirectoryCredential, ctx: RotationServices) -> Deactivation:
    """Deactivate the credential's account; one the CA refuses to act for is as good as deactivated.

    Raises CaUnavailable when the CA cannot be reached (nothing happened: run it again).
    """
    if credential.account_key is None or credential.account_url is None:
        return Deactivation.NO_ACCOUNT
    try:
        ctx.ca.deactivate(credential)
    except Unauthorized:
        return Deactivation.REFUSED
    return Deactivation.DEACTIVATED


def ca_accepts(credential: DirectoryCredential, ctx: RotationServices) -> bool:
    """Whether the CA knows the credential's key as its account's key (a rollover that took place)."""
    if credential.account_key is None or credential.account_url is None:
        return False
    try:
        found = ctx.ca.find_account(credential)
    except CaError:
        return False
    return found is not None and found.url == credential.account_url


def problem_with(credential: DirectoryCredential, ctx: RotationServices) -> str | None:
    """What keeps a credential set from working at its CA, or None."""
    if credential.account_key is None or credential.account_url is None:
        return "has no ACME account (a new credential is staged only after its account is registered)"
    try:
        found = ctx.ca.find_account(credential)
    except CaError as error:
        return f"is refused by the CA: {error.message}"
    if found is None:
        return f"has a key the CA at {credential.directory_url} knows no account for"
    if found.url != credential.account_url:
        return f"has a key that belongs to another account ({found.url})"
    if found.status is not AccountStatus.VALID:
        return f"has an account that is {found.status.value}"
    return None
