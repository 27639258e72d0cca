"""The rotations a person asks for (`acmevault directory rotate`, POST /directories/{name}/rotate): the
four protocol steps run in order, under a token of their own.

Running the same rotation again resumes it where it stopped (or, for a replacement that is done,
changes nothing); another rotation in the way is settled first. A failure that leaves the CA and
AWSCURRENT as they were drops the rotation; a failure to reach AWS or the CA keeps it, to resume.
"""

from __future__ import annotations

import uuid

from acmevault.app.rotation.ledger import abandon, current, draft_id
from acmevault.app.rotation.protocol import create_secret, finish_secret, set_secret, settle, test_secret
from acmevault.app.rotation.services import NewCredential, RotationServices
from acmevault.domain.directory import (
    DirectoryCredential,
    Rotation,
    RotationKind,
    RotationOutcome,
    RotationSource,
    RotationStep,
)
from acmevault.domain.errors import AcmeVaultError, ConflictError, DirectoryLost, UnavailableError


def rotate_account_key(name: str, ctx: RotationServices, actor: str) -> Rotation:
    """Roll the directory's ACME account over to a new key; the old key stops working at the CA.

    Afterwards AWSCURRENT holds the new key and AWSPREVIOUS the old. An interrupted rollover of
    the same directory is resumed rather than started again. DirectoryLost for a directory marked lost.
    """
    return _run(name, None, ctx, actor)


def replace_credential(name: str, request: NewCredential, ctx: RotationServices, actor: str) -> Rotation:
    """Replace a lost (or leaked) directory URL / EAB credential with a new one and a new account.

    The new credential must register an account at its directory before it is staged; once it is
    current, the old account is deactivated and every certificate it issued is queued for re-issue.
    Running the same replacement again resumes it, or, when it is done, changes nothing.
    """
    return _run(name, request, ctx, actor)


def _run(name: str, request: NewCredential | None, ctx: RotationServices, actor: str) -> Rotation:
    token = _token_for(name, request, ctx, actor)
    try:
        create_secret(name, token, ctx, actor, request)
        set_secret(name, token, ctx, actor)
        test_secret(name, token, ctx, actor)
        return finish_secret(name, token, ctx, actor)
    except UnavailableError:
        raise  # nothing is lost: running the same rotation again resumes it
    except AcmeVaultError as error:
        rotation = ctx.records.rotation(name)
        if rotation is not None and rotation.token == token and not rotation.finished and _droppable(rotation):
            abandon(name, rotation, ctx, actor, error.message)
        raise


def _droppable(rotation: Rotation) -> bool:
    """Whether a failed rotation can be dropped: not once its set is current, nor once the CA holds a new key."""
    return RotationStep.PROMOTED not in rotation.done and not (
        rotation.kind is RotationKind.KEY_ROLLOVER and RotationStep.SET in rotation.done
    )


def _token_for(name: str, request: NewCredential | None, ctx: RotationServices, actor: str) -> str:
    """The rotation to run: the same one again when it was interrupted (or, for a replacement, done)."""
    in_use = current(name, ctx)
    rotation = ctx.records.rotation(name)
    if rotation is not None and _same(name, rotation, request, ctx):
        # Interrupted: resume it. A replacement done already with this very credential: nothing to do.
        done_already = (
            rotation.outcome is RotationOutcome.ROTATED and request is not None and _replaced_by(in_use, request)
        )
        if not rotation.finished or done_already:
            return rotation.token
    if rotation is not None and not rotation.finished:
        if rotation.kind is RotationKind.REPLACEMENT and request is None and RotationStep.PROMOTED not in rotation.done:
            raise ConflictError(
                f"directory {name!r}: a replacement of its credential is in progress; run it again to finish it"
            )
        settle(name, rotation, ctx, actor, abandon_replacement=True)
    if request is None and ctx.records.state(name).lost:
        raise DirectoryLost(name)
    return str(uuid.uuid4())


def _same(name: str, rotation: Rotation, request: NewCredential | None, ctx: RotationServices) -> bool:
    """Whether ``rotation`` is the one asked for again (the same kind, and for a replacement the same credential)."""
    if request is None:
        return rotation.kind is RotationKind.KEY_ROLLOVER
    if rotation.kind is not RotationKind.REPLACEMENT:
        return False
    if request.credential is None:
        return rotation.source is RotationSource.CERTCENTRAL
    staged = ctx.secrets.get_version(name, rotation.token) or ctx.secrets.get_version(name, draft_id(rotation.token))
    return staged is not None and _replaced_by(staged, request)


def _replaced_by(credential: DirectoryCredential, request: NewCredential) -> bool:
    wanted = request.credential
    return wanted is not None and (credential.directory_url, credential.eab_kid) == (
        wanted.directory_url,
        wanted.eab_kid,
    )
