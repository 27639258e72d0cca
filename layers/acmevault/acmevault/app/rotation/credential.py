"""A rotation's new credential set: the rotation started for it, and the set built (a new account key; for a
replacement also the new URL and EAB credential, from the operator or CertCentral, registered at its CA).

A replacement's set is saved as a draft before its account is registered: a registration repeated after
a crash finds the same account instead of spending the EAB credential (single-use at some CAs) twice.
"""

from __future__ import annotations

from dataclasses import replace

from acmevault.app.rotation.ledger import (
    DRAFT,
    Outcome,
    current_version,
    draft_id,
    facts,
    note,
    now,
    public,
    save,
    version,
)
from acmevault.app.rotation.services import SCHEDULE_ACTOR, NewCredential, RotationServices
from acmevault.domain.directory import (
    DirectoryCredential,
    Rotation,
    RotationKind,
    RotationSource,
    RotationStep,
)
from acmevault.domain.errors import ConflictError, DirectoryLost, ValidationError
from acmevault.ports.ca import CredentialProvider


def start(name: str, token: str, ctx: RotationServices, actor: str, request: NewCredential | None) -> Rotation:
    """Record a new rotation of the directory: a key rollover without a request, else a replacement.

    Without a request, a directory marked lost is replaced by CertCentral when it is configured
    (DirectoryLost otherwise); a directory without an account has no key to roll over (ConflictError).
    """
    previous = current_version(name, ctx)
    current = version(name, previous, ctx)
    state = ctx.records.state(name)
    if request is None and state.lost:
        if ctx.certcentral is None:
            raise DirectoryLost(name)
        request = NewCredential(None)  # the schedule, for a lost directory: CertCentral makes the new one
    kind = RotationKind.KEY_ROLLOVER if request is None else RotationKind.REPLACEMENT
    if kind is RotationKind.KEY_ROLLOVER and current.needs_registration:
        raise ConflictError(f"directory {name!r} has no ACME account yet: there is no account key to roll over")
    if request is None:
        source = RotationSource.SCHEDULE if actor == SCHEDULE_ACTOR else RotationSource.OPERATOR
    else:
        source = request.source
    # The new set's directory: the one given, else (a rollover; CertCentral's is not known yet) the current one
    given = request.credential if request is not None else None
    directory_url = given.directory_url if given is not None else current.directory_url
    rotation = Rotation(
        token=token,
        kind=kind,
        actor=actor,
        started_at=now(ctx),
        previous_version=previous,
        previous_account_url=current.account_url,
        source=source,
        directory_url=directory_url,
        revoke_previous=request is not None and request.revoke_previous,
        previous_certcentral_key_id=state.certcentral_key_id,
    )
    rotation = save(name, rotation, ctx)
    note(name, ctx, actor, "rotation started", Outcome.OK, **facts(rotation))
    return rotation


def adopt(name: str, token: str, staged: DirectoryCredential, ctx: RotationServices, actor: str) -> Rotation:
    """A set staged as AWSPENDING outside acmevault (by hand, in the console): rotate to it as it is.

    It is never rewritten (a version's value is fixed); testSecret decides whether it works.
    """
    previous = current_version(name, ctx)
    current = version(name, previous, ctx)
    same_account = staged.account_url is not None and (
        staged.directory_url,
        staged.eab_kid,
        staged.account_url,
    ) == (current.directory_url, current.eab_kid, current.account_url)
    rotation = Rotation(
        token=token,
        kind=RotationKind.KEY_ROLLOVER if same_account else RotationKind.REPLACEMENT,
        actor=actor,
        started_at=now(ctx),
        previous_version=previous,
        previous_account_url=current.account_url,
        source=RotationSource.STAGED,
        directory_url=staged.directory_url,
        account_url=staged.account_url,
        previous_certcentral_key_id=ctx.records.state(name).certcentral_key_id,
        done=(RotationStep.CREATED,),
    )
    rotation = save(name, rotation, ctx)
    note(name, ctx, actor, "staged credential taken up", Outcome.OK, **facts(rotation), **public(staged))
    return rotation


def build(
    name: str, rotation: Rotation, request: NewCredential | None, ctx: RotationServices
) -> tuple[DirectoryCredential, Rotation]:
    """The new set, with the rotation as it stands then (a CertCentral key id noted on it).

    Key rollover: the current set with a new account key. Replacement: the requested (or CertCentral's)
    credential with the directory's contact and kind, a new account key, and its account registered.
    Raises CredentialRejected when the CA refuses the credential, and what ``CaAccounts.register`` and
    ``CredentialProvider`` raise.
    """
    from acmevault.domain.keys import generate_account_key  # cryptography: only where a key is made

    current = version(name, rotation.previous_version, ctx)
    if rotation.kind is RotationKind.KEY_ROLLOVER:
        return replace(current, account_key=generate_account_key()), rotation
    draft = ctx.secrets.get_version(name, draft_id(rotation.token))
    if draft is None:
        candidate = request.credential if request is not None else None
        if candidate is None:
            made = certcentral(ctx).create_acme_credential(name, rotation.previous_certcentral_key_id)
            rotation = save(name, replace(rotation, certcentral_key_id=made.key_id), ctx)
            candidate = made.credential
        contact = candidate.contact or current.contact
        # A replacement keeps the directory's kind: an SXG directory's new credential is SXG too
        sxg = candidate.sxg or current.sxg
        draft = replace(candidate, contact=contact, sxg=sxg, account_key=generate_account_key(), account_url=None)
        ctx.secrets.put_version(name, draft_id(rotation.token), draft, DRAFT)
    assert draft.account_key is not None
    account_url = ctx.ca.register(draft)
    return draft.with_account(draft.account_key, account_url), rotation


def certcentral(ctx: RotationServices) -> CredentialProvider:
    """CertCentral, when it is configured (ValidationError otherwise)."""
    if ctx.certcentral is None:
        raise ValidationError(
            "certcentral", "CertCentral is not configured (set ACMEVAULT_CERTCENTRAL_SECRET to its API key's secret)"
        )
    return ctx.certcentral()
