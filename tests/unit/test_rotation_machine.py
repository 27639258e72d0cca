"""The rotation state machine on in-memory fakes of its ports (tests/fakes): the four Secrets Manager steps,
each retried; a person's rotation resumed after a crash at each step; abandoning and settling; marking a
directory lost; the bookkeeping of superseded certificates; refusals. Milliseconds per test.

The fakes keep Secrets Manager's label rules and the CA's view of accounts, so each test reads back what
the CA and the secret hold, not what rotation says it did. tests/integration/test_rotation.py runs the
same behaviours against Pebble and moto (the contract tests).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from acmevault.app.rotation import (
    NewCredential,
    RotationServices,
    complete_revocations,
    mark_lost,
    replace_credential,
    revoke_replaced,
    rotate_account_key,
    run_step,
)
from acmevault.app.views import directory_detail
from acmevault.domain.certificate import Status
from acmevault.domain.directory import (
    AccountStatus,
    DirectoryCredential,
    DirectoryStatus,
    RevocationState,
    RotationKind,
    RotationOutcome,
    RotationSource,
    RotationStep,
)
from acmevault.domain.errors import (
    CaUnavailable,
    ConflictError,
    CredentialRejected,
    DirectoryLost,
    DirectoryNotFound,
    RotationFailed,
    ValidationError,
)
from acmevault.domain.keys import generate_account_key

from tests.fakes.ca_accounts import FakeCa
from tests.fakes.certificate_store import CertificateStore
from tests.fakes.credential_provider import FakeCredentialProvider
from tests.fakes.directories import FakeDirectoryRecords, FakeDirectorySecrets
from tests.fakes.recorders import Clock, IssueRecorder, Outlets

OLD_CA = "https://old-ca.test/dir"
NEW_CA = "https://new-ca.test/dir"
DIRECTORY = "web"
TOKEN = "4f7c2a8e-5b3d-4e1f-9a6c-0d8b7e2f1a35"
OTHER_TOKEN = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def hmac(kid: str) -> str:
    return base64.urlsafe_b64encode(f"hmac key of {kid:>20}".encode()).decode().rstrip("=")


class Forgotten(list[str]):
    """The container's credential cache (``Accounts``): which directories it was told to forget."""

    def forget(self, name: str) -> None:
        self.append(name)


@dataclass
class World:
    """The fakes around one vaulted directory, and the services rotation gets over them."""

    ca: FakeCa = field(default_factory=FakeCa)
    secrets: FakeDirectorySecrets = field(default_factory=FakeDirectorySecrets)
    records: FakeDirectoryRecords = field(default_factory=FakeDirectoryRecords)
    store: CertificateStore = field(default_factory=CertificateStore)
    queue: IssueRecorder = field(default_factory=IssueRecorder)
    outlets: Outlets = field(default_factory=Outlets)
    clock: Clock = field(default_factory=Clock)
    cache: Forgotten = field(default_factory=Forgotten)
    certcentral: FakeCredentialProvider | None = None

    @property
    def ctx(self) -> RotationServices:
        provider = self.certcentral
        return RotationServices(
            secrets=self.secrets,
            records=self.records,
            certificates=self.store,
            queue=self.queue,
            keys=self.store,
            ca=self.ca,
            events=self.outlets.events,
            alerts=self.outlets.alerts,
            cache=self.cache,
            certcentral=(lambda: provider) if provider is not None else None,
            clock=self.clock,
        )

    def vault(self, name: str = DIRECTORY) -> DirectoryCredential:
        """A directory registered at the old CA with kid-1, as ``Accounts.vault`` leaves it."""
        key = generate_account_key()
        credential = DirectoryCredential(OLD_CA, "kid-1", hmac("kid-1"), contact=("mailto:pki@example.com",))
        url = self.ca.register(DirectoryCredential(OLD_CA, "kid-1", hmac("kid-1"), account_key=key))
        stored = credential.with_account(key, url)
        self.secrets.create(name, stored)
        return stored

    def current(self) -> DirectoryCredential:
        return self.secrets.value(DIRECTORY)

    def actions(self) -> list[str]:
        return [action for action, _ in self.records.actions(DIRECTORY)]


@pytest.fixture
def world() -> World:
    w = World()
    w.ca.add_directory(OLD_CA, eab={"kid-1": hmac("kid-1"), "kid-2": hmac("kid-2")}, single_use_eab=True)
    w.ca.add_directory(NEW_CA, eab={"kid-9": hmac("kid-9")}, single_use_eab=True)
    w.vault()
    return w


def replacement(kid: str = "kid-9", url: str = NEW_CA, revoke_previous: bool = False) -> NewCredential:
    return NewCredential(DirectoryCredential(url, kid, hmac(kid)), revoke_previous=revoke_previous)


def step(world: World, which: str, token: str = TOKEN) -> None:
    run_step(world.secrets.arn(DIRECTORY), token, which, world.ctx)


def rotated_set(world: World, before: DirectoryCredential) -> DirectoryCredential:
    """The checks every finished rotation passes; returns the new current set."""
    new = world.current()
    assert world.secrets.all_labels(DIRECTORY) == ["AWSCURRENT", "AWSPREVIOUS"]
    assert world.secrets.value(DIRECTORY, "AWSPREVIOUS") == before
    assert world.ca.find_account(new) is not None and world.ca.account_of(new).key == new.account_key
    assert world.ca.account_of(new).status is AccountStatus.VALID
    return new


# -- the four steps, as Secrets Manager runs them --------------------------------------------------


def test_the_four_steps_roll_the_key_over_and_each_retry_changes_nothing(world: World) -> None:
    before = world.current()
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    for which in STEPS:
        step(world, which)
        step(world, which)  # Secrets Manager retries a step: nothing is done twice
    new = rotated_set(world, before)
    assert world.secrets.stages(DIRECTORY)[TOKEN] == ("AWSCURRENT",)
    assert new.account_url == before.account_url and new.account_key != before.account_key
    assert new.eab_kid == before.eab_kid and new.contact == before.contact
    assert world.ca.find_account(before) is None  # the old key controls nothing any more
    assert world.ca.count("change_key") == 1
    assert [e["token"] for e in world.outlets.of_type("Directory Rotated")] == [TOKEN]
    assert world.outlets.of_type("Directory Rotated")[0]["source"] == "schedule"
    assert world.actions() == [
        "rotation started",
        "credential staged",
        "account key rolled over at the CA",
        "pending credential tested",
        "new credential made current",
        "rotation finished",
    ]
    rotation = world.records.rotation(DIRECTORY)
    assert rotation is not None and rotation.outcome is RotationOutcome.ROTATED
    assert rotation.done == (RotationStep.CREATED, RotationStep.SET, RotationStep.TESTED, RotationStep.PROMOTED)
    assert world.records.state(DIRECTORY).generation == TOKEN
    assert world.cache == [DIRECTORY]


def test_test_secret_fails_while_the_ca_does_not_hold_the_key_and_finish_refuses(world: World) -> None:
    before = world.current()
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    step(world, "createSecret")
    for _ in range(2):
        with pytest.raises(RotationFailed, match="knows no account") as failed:
            step(world, "testSecret")
        assert "the current one is unchanged" in failed.value.message
    with pytest.raises(ConflictError, match="was not tested"):
        step(world, "finishSecret")
    assert world.current() == before
    assert world.ca.account_of(before).key == before.account_key
    assert world.records.actions(DIRECTORY)[-2:] == [
        ("pending credential tested", "failed"),
        ("pending credential tested", "failed"),
    ]


def test_a_set_staged_by_hand_without_an_account_is_taken_up_and_fails_its_test(world: World) -> None:
    before = world.current()
    by_hand = DirectoryCredential(NEW_CA, "kid-9", hmac("kid-9"))
    world.secrets.put_version(DIRECTORY, TOKEN, by_hand, "AWSPENDING")
    step(world, "createSecret")
    step(world, "setSecret")
    assert world.secrets.value(DIRECTORY, "AWSPENDING") == by_hand  # never rewritten
    rotation = world.records.rotation(DIRECTORY)
    assert rotation is not None and rotation.source is RotationSource.STAGED
    assert rotation.kind is RotationKind.REPLACEMENT
    with pytest.raises(RotationFailed, match="has no ACME account"):
        step(world, "testSecret")
    assert world.current() == before


def test_a_new_key_staged_by_hand_for_the_same_account_is_rolled_over_to(world: World) -> None:
    before = world.current()
    by_hand = DirectoryCredential(
        OLD_CA, "kid-1", hmac("kid-1"), account_key=generate_account_key(), account_url=before.account_url
    )
    world.secrets.put_version(DIRECTORY, TOKEN, by_hand, "AWSPENDING")
    for which in STEPS:
        step(world, which)
    assert rotated_set(world, before) == by_hand
    rotation = world.records.rotation(DIRECTORY)
    assert rotation is not None and rotation.kind is RotationKind.KEY_ROLLOVER


@pytest.mark.parametrize(
    ("secret_id", "token", "which", "error", "message"),
    [
        ("", TOKEN, "createSecret", ValidationError, "SecretId"),
        (
            "arn:aws:secretsmanager:us-east-1:1:secret:other-AbCdEf",
            TOKEN,
            "createSecret",
            DirectoryNotFound,
            "does not exist",
        ),
        (None, "short", "createSecret", ValidationError, "ClientRequestToken"),
        (None, TOKEN, "rotateSecret", ValidationError, "'rotateSecret' is not one of: createSecret"),
        (None, TOKEN, "setSecret", ConflictError, "createSecret first"),
        (None, TOKEN, "finishSecret", ConflictError, "createSecret first"),
    ],
)
def test_a_step_that_cannot_be_run_is_refused_and_changes_nothing(
    world: World, secret_id: str | None, token: str, which: str, error: type[Exception], message: str
) -> None:
    before = (world.secrets.stages(DIRECTORY), world.records.rotation(DIRECTORY), world.ca.count("change_key"))
    with pytest.raises(error, match=message):
        run_step(world.secrets.arn(DIRECTORY) if secret_id is None else secret_id, token, which, world.ctx)
    assert (world.secrets.stages(DIRECTORY), world.records.rotation(DIRECTORY), world.ca.count("change_key")) == before


def test_create_secret_refuses_a_token_that_is_not_pending(world: World) -> None:
    world.secrets.put_version(DIRECTORY, TOKEN, world.current(), "ACMEVAULT_OTHER")
    with pytest.raises(ValidationError, match="is not AWSPENDING"):
        step(world, "createSecret")
    assert world.records.rotation(DIRECTORY) is None


# -- a person's rotation: run to the end, or resumed after a crash -------------------------------------


def test_a_person_rolls_the_key_over(world: World) -> None:
    before = world.current()
    done = rotate_account_key(DIRECTORY, world.ctx, "alice")
    new = rotated_set(world, before)
    assert done.outcome is RotationOutcome.ROTATED and done.source is RotationSource.OPERATOR
    assert done.actor == "alice" and new.account_url == before.account_url
    assert world.secrets.stages(DIRECTORY)[done.token] == ("AWSCURRENT",)


def test_a_rollover_run_twice_rolls_twice(world: World) -> None:
    first = world.current()
    one = rotate_account_key(DIRECTORY, world.ctx, "alice")
    two = rotate_account_key(DIRECTORY, world.ctx, "alice")
    assert one.token != two.token
    assert world.ca.find_account(first) is None
    assert world.ca.count("change_key") == 2


def test_a_replacement_registers_a_new_account_and_retires_the_old_one(world: World) -> None:
    before = world.current()
    world.store.issued("a", DIRECTORY, before.account_url, "01", OLD_CA)
    world.store.issued("b", DIRECTORY, "https://old-ca.test/acct/elsewhere", "02", OLD_CA)  # another account
    world.store.issued("c", "other", before.account_url, "03", OLD_CA)  # another directory
    world.store.issued("d", DIRECTORY, before.account_url, "04", OLD_CA)
    world.store.change("d", status=Status.REVOKED)  # revoked: not re-issued
    done = replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    new = rotated_set(world, before)
    assert (new.directory_url, new.eab_kid, new.contact) == (NEW_CA, "kid-9", before.contact)
    assert new.account_url != before.account_url and done.account_url == new.account_url
    assert world.ca.account_of(before).status is AccountStatus.DEACTIVATED
    assert world.queue.sent == [(["a"], "directory-rotated", {"a": "01"})]
    assert done.done[-2:] == (RotationStep.QUEUED, RotationStep.DEACTIVATED)
    state = world.records.state(DIRECTORY)
    assert (state.status, state.reason, state.generation) == (DirectoryStatus.ACTIVE, "credential replaced", done.token)
    assert world.records.revocations(DIRECTORY) == []  # revoke_previous was not asked for
    detail = world.outlets.of_type("Directory Rotated")[0]
    assert (detail["kind"], detail["previous_account_url"]) == ("replacement", before.account_url)


def test_a_replacement_keeps_the_directory_sxg(world: World) -> None:
    key = generate_account_key()
    url = world.ca.register(DirectoryCredential(OLD_CA, "kid-2", hmac("kid-2"), account_key=key))
    world.secrets.create("sxg", DirectoryCredential(OLD_CA, "kid-2", hmac("kid-2"), sxg=True).with_account(key, url))
    replace_credential("sxg", replacement(), world.ctx, "alice")
    assert world.secrets.value("sxg").sxg and world.secrets.value("sxg").directory_url == NEW_CA


def test_the_same_replacement_again_changes_nothing(world: World) -> None:
    first = replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    again = replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    assert again.token == first.token
    assert world.ca.count("register") == 2  # the vaulting's, and the replacement's
    assert len(world.outlets.of_type("Directory Rotated")) == 1


class Killed(BaseException):
    """The process dies here (no error acmevault could catch and clean up after)."""


def crash_after(monkeypatch: pytest.MonkeyPatch, owner: Any, method: str, when: Callable[..., bool]) -> None:
    """Let ``owner.method`` do its work, then kill the process, the first time ``when(*args)`` holds."""
    original = getattr(owner, method)
    fired: list[bool] = []

    def dying(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not fired and when(*args):
            fired.append(True)
            raise Killed(method)
        return result

    monkeypatch.setattr(owner, method, dying)


def always(*_: Any) -> bool:
    return True


def saved(step_done: RotationStep, not_yet: RotationStep | None = None) -> Callable[..., bool]:
    """When the rotation saved has ``step_done`` noted (and not ``not_yet``)."""
    return lambda _name, rotation: step_done in rotation.done and (not_yet is None or not_yet not in rotation.done)


CRASHES: dict[str, tuple[str, str, str, Callable[..., bool]]] = {
    "rollover: after it is staged": ("rollover", "secrets", "put_version", lambda *a: a[3] == "AWSPENDING"),
    "rollover: after the key change at the CA": ("rollover", "ca", "change_key", always),
    "rollover: after setSecret is noted": (
        "rollover",
        "records",
        "save_rotation",
        saved(RotationStep.SET, RotationStep.TESTED),
    ),
    "rollover: after it is tested": (
        "rollover",
        "records",
        "save_rotation",
        saved(RotationStep.TESTED, RotationStep.PROMOTED),
    ),
    "rollover: after it is made current": ("rollover", "secrets", "promote", always),
    "rollover: after the directory's state says so": ("rollover", "records", "set_state", always),
    "replacement: after its draft is saved": (
        "replacement",
        "secrets",
        "put_version",
        lambda *a: a[3] == "ACMEVAULT_DRAFT",
    ),
    "replacement: after its account is registered": ("replacement", "ca", "register", always),
    "replacement: after it is staged": ("replacement", "secrets", "put_version", lambda *a: a[3] == "AWSPENDING"),
    "replacement: after it is tested": (
        "replacement",
        "records",
        "save_rotation",
        saved(RotationStep.TESTED, RotationStep.PROMOTED),
    ),
    "replacement: after its old certificates are noted": ("replacement", "records", "add_revocation", always),
    "replacement: after it is made current": ("replacement", "secrets", "promote", always),
    "replacement: after the re-issues are queued": ("replacement", "queue", "send", always),
    "replacement: after the old account is deactivated": ("replacement", "ca", "deactivate", always),
}


@pytest.mark.parametrize("point", list(CRASHES))
def test_a_rotation_killed_anywhere_ends_consistent_when_run_again(
    world: World, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    kind, owner, method, when = CRASHES[point]
    before = world.current()
    world.store.issued("a", DIRECTORY, before.account_url, "01", OLD_CA)

    def rotate() -> Any:
        if kind == "rollover":
            return rotate_account_key(DIRECTORY, world.ctx, "alice")
        return replace_credential(DIRECTORY, replacement(revoke_previous=True), world.ctx, "alice")

    crash_after(monkeypatch, getattr(world, owner), method, when)
    with pytest.raises(Killed):
        rotate()
    monkeypatch.undo()
    done = rotate()
    new = rotated_set(world, before)
    assert done.outcome is RotationOutcome.ROTATED
    assert world.records.rotation(DIRECTORY) == done
    tokened = [h["action"] for h in world.records.history(DIRECTORY, 100) if h.get("token") == done.token]
    assert tokened.count("new credential made current") == 1 and tokened.count("rotation finished") == 1
    if kind == "rollover":
        assert new.account_url == before.account_url
        assert world.ca.find_account(before) is None
        assert world.ca.count("change_key") == 1
    else:
        assert new.directory_url == NEW_CA
        assert len(world.ca.accounts) == 2  # one new account: a resumed registration found it again
        assert world.ca.account_of(before).status is AccountStatus.DEACTIVATED
        assert {tuple(names) for names, _, _ in world.queue.sent} == {("a",)}
        entries = world.records.revocations(DIRECTORY)
        assert [(e.certificate, e.serial, e.state) for e in entries] == [("a", "01", RevocationState.WAITING)]
        assert "ACMEVAULT_DRAFT" not in world.secrets.all_labels(DIRECTORY)


def test_a_set_secret_killed_after_the_key_change_is_finished_by_its_retry(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = world.current()
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    step(world, "createSecret")
    crash_after(monkeypatch, world.ca, "change_key", always)
    with pytest.raises(Killed):
        step(world, "setSecret")
    monkeypatch.undo()
    assert world.ca.find_account(before) is None  # the CA moved on; AWSCURRENT has not yet
    for which in ("setSecret", "testSecret", "finishSecret"):
        step(world, which)
    rotated_set(world, before)
    assert world.ca.count("change_key") == 1


# -- settling and abandoning -------------------------------------------------------------------------


def test_a_replacement_the_ca_refuses_is_never_staged_and_is_abandoned(world: World) -> None:
    before = world.current()
    wrong = NewCredential(DirectoryCredential(NEW_CA, "kid-9", hmac("kid-8")))
    with pytest.raises(CredentialRejected):
        replace_credential(DIRECTORY, wrong, world.ctx, "alice")
    assert world.secrets.stages(DIRECTORY) == {world.secrets.version_with(DIRECTORY, "AWSCURRENT"): ("AWSCURRENT",)}
    assert world.current() == before and world.ca.account_of(before).status is AccountStatus.VALID
    rotation = world.records.rotation(DIRECTORY)
    assert rotation is not None and rotation.outcome is RotationOutcome.ABANDONED
    assert world.records.actions(DIRECTORY)[-1] == ("rotation abandoned", "failed")
    assert "the new credential" in world.records.history(DIRECTORY)[0]["error"]
    assert world.outlets.sent == []


def test_a_ca_out_of_reach_keeps_the_rotation_to_resume(world: World) -> None:
    before = world.current()
    world.ca.down = True
    with pytest.raises(CaUnavailable):
        replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    stalled = world.records.rotation(DIRECTORY)
    assert stalled is not None and not stalled.finished
    world.ca.down = False
    done = replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    assert done.token == stalled.token
    rotated_set(world, before)


def test_a_newer_scheduled_rotation_abandons_one_the_ca_never_took(world: World) -> None:
    before = world.current()
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    step(world, "createSecret")
    world.secrets.start_rotation(DIRECTORY, OTHER_TOKEN)
    for which in STEPS:
        step(world, which, OTHER_TOKEN)
    rotated_set(world, before)
    assert world.secrets.stages(DIRECTORY)[OTHER_TOKEN] == ("AWSCURRENT",)
    abandoned = [h for h in world.records.history(DIRECTORY, 100) if h["action"] == "rotation abandoned"]
    assert [(h["token"], h["error"]) for h in abandoned] == [(TOKEN, "overtaken by a newer rotation")]


def test_a_person_resumes_a_scheduled_rollover_the_ca_took(world: World) -> None:
    before = world.current()
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    step(world, "createSecret")
    step(world, "setSecret")
    done = rotate_account_key(DIRECTORY, world.ctx, "alice")
    assert done.token == TOKEN
    rotated_set(world, before)
    assert world.ca.count("change_key") == 1


def test_a_replacement_finishes_first_a_rollover_the_ca_took(world: World) -> None:
    before = world.current()
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    step(world, "createSecret")
    step(world, "setSecret")  # the CA holds the new key; AWSCURRENT still the old one
    done = replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    rolled = world.secrets.value(DIRECTORY, "AWSPREVIOUS")
    assert rolled == world.secrets.get_version(DIRECTORY, TOKEN) and rolled != before
    assert world.ca.account_of(rolled).status is AccountStatus.DEACTIVATED  # with the key the CA held
    assert world.current().directory_url == NEW_CA and done.outcome is RotationOutcome.ROTATED


def test_a_rollover_is_refused_while_a_replacement_is_in_progress(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_after(monkeypatch, world.ca, "register", always)
    with pytest.raises(Killed):
        replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    monkeypatch.undo()
    with pytest.raises(ConflictError, match="a replacement of its credential is in progress"):
        rotate_account_key(DIRECTORY, world.ctx, "alice")
    rotation = world.records.rotation(DIRECTORY)
    assert rotation is not None and not rotation.finished


def test_another_replacement_overtakes_an_unfinished_one(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    before = world.current()
    crash_after(monkeypatch, world.ca, "register", always)
    with pytest.raises(Killed):
        replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    monkeypatch.undo()
    done = replace_credential(DIRECTORY, replacement("kid-2", OLD_CA), world.ctx, "alice")
    assert rotated_set(world, before).eab_kid == "kid-2"
    assert ("rotation abandoned", "failed") in world.records.actions(DIRECTORY)
    assert "ACMEVAULT_DRAFT" not in world.secrets.all_labels(DIRECTORY) and done.outcome is RotationOutcome.ROTATED


def test_the_schedule_leaves_an_unfinished_replacement_alone(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    before = world.current()
    crash_after(monkeypatch, world.ca, "register", always)
    with pytest.raises(Killed):
        replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    monkeypatch.undo()
    stalled = world.records.rotation(DIRECTORY)
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    with pytest.raises(ConflictError, match="another rotation"):
        step(world, "createSecret")
    assert world.records.rotation(DIRECTORY) == stalled  # neither dropped nor replaced
    done = replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    assert stalled is not None and done.token == stalled.token
    assert rotated_set(world, before).directory_url == NEW_CA


def refused(*_: Any) -> None:
    raise CredentialRejected("looking up the ACME account: the CA refused (badSignatureAlgorithm)")


def test_a_rollover_that_fails_once_the_ca_took_the_key_is_kept_to_finish(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = world.current()
    monkeypatch.setattr(world.ca, "find_account", refused)  # the key change goes through, the test does not
    with pytest.raises(RotationFailed, match="is refused by the CA"):
        rotate_account_key(DIRECTORY, world.ctx, "alice")
    monkeypatch.undo()
    stalled = world.records.rotation(DIRECTORY)
    assert stalled is not None and not stalled.finished and RotationStep.SET in stalled.done
    assert world.secrets.stages(DIRECTORY)[stalled.token] == ("AWSPENDING",)  # the key the CA holds is kept
    done = rotate_account_key(DIRECTORY, world.ctx, "alice")
    assert done.token == stalled.token
    rotated_set(world, before)
    assert world.ca.count("change_key") == 1


def test_a_replacement_whose_new_set_fails_its_test_leaves_nothing_pending(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = world.current()
    monkeypatch.setattr(world.ca, "find_account", lambda credential: None)
    with pytest.raises(RotationFailed, match="knows no account"):
        replace_credential(DIRECTORY, replacement(), world.ctx, "alice")
    assert world.secrets.all_labels(DIRECTORY) == ["AWSCURRENT"] and world.current() == before
    rotation = world.records.rotation(DIRECTORY)
    assert rotation is not None and rotation.outcome is RotationOutcome.ABANDONED


def test_test_secret_fails_for_an_account_the_ca_revoked(world: World) -> None:
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    step(world, "createSecret")
    step(world, "setSecret")
    world.ca.account_of(world.current()).status = AccountStatus.REVOKED
    with pytest.raises(RotationFailed, match="has an account that is revoked"):
        step(world, "testSecret")


# -- marking a directory lost --------------------------------------------------------------------------


def test_marking_lost_stops_the_directory_deactivates_its_account_and_tells_people(world: World) -> None:
    before = world.current()
    state = mark_lost(DIRECTORY, world.ctx, "alice", "pasted into a ticket")
    assert state.status is DirectoryStatus.LOST and state.changed_by == "alice"
    assert world.records.state(DIRECTORY) == state
    assert world.ca.account_of(before).status is AccountStatus.DEACTIVATED
    assert world.cache == [DIRECTORY]
    [detail] = world.outlets.of_type("Directory Revoked")
    assert (detail["deactivation"], detail["reason"], detail["account_url"]) == (
        "deactivated",
        "pasted into a ticket",
        before.account_url,
    )
    [(subject, message)] = world.outlets.alerted
    assert subject == f"acmevault: directory {DIRECTORY} marked lost" and "was marked lost by alice" in message
    # again: recorded, but nobody is told twice
    mark_lost(DIRECTORY, world.ctx, "alice")
    assert len(world.outlets.of_type("Directory Revoked")) == 1
    assert [h.get("deactivation") for h in world.records.history(DIRECTORY) if h["action"] == "marked lost"] == [
        "refused by the CA (deactivated already)",
        "deactivated",
    ]
    with pytest.raises(DirectoryLost):
        rotate_account_key(DIRECTORY, world.ctx, "alice")
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    with pytest.raises(DirectoryLost):
        step(world, "createSecret")


def test_marking_lost_stands_when_nobody_can_be_told(world: World) -> None:
    world.outlets.down = True
    state = mark_lost(DIRECTORY, world.ctx, "alice")
    assert state.lost and world.ca.account_of(world.current()).status is AccountStatus.DEACTIVATED
    assert world.outlets.sent == [] and world.outlets.alerted == []


def test_marking_lost_first_finishes_a_rollover_the_ca_took(world: World) -> None:
    before = world.current()
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    step(world, "createSecret")
    step(world, "setSecret")
    mark_lost(DIRECTORY, world.ctx, "alice")
    rolled = world.current()
    assert rolled != before and world.secrets.stages(DIRECTORY)[TOKEN] == ("AWSCURRENT",)
    assert world.ca.account_of(rolled).status is AccountStatus.DEACTIVATED
    assert world.outlets.of_type("Directory Revoked")[0]["deactivation"] == "deactivated"


def test_a_replacement_makes_a_lost_directory_active_again(world: World) -> None:
    mark_lost(DIRECTORY, world.ctx, "alice")
    done = replace_credential(DIRECTORY, replacement(), world.ctx, "bob")
    state = world.records.state(DIRECTORY)
    assert (state.status, state.changed_by, state.generation) == (DirectoryStatus.ACTIVE, "bob", done.token)
    assert done.outcome is RotationOutcome.ROTATED


# -- CertCentral --------------------------------------------------------------------------------------


def test_certcentral_makes_the_replacement_and_the_schedule_replaces_a_lost_one_there(world: World) -> None:
    world.certcentral = FakeCredentialProvider(world.ca)
    before = world.current()
    first = replace_credential(DIRECTORY, NewCredential(None), world.ctx, "alice")
    made = rotated_set(world, before)
    assert first.source is RotationSource.CERTCENTRAL and first.certcentral_key_id == "1001"
    assert made.eab_kid == "cc-kid-1" and world.records.state(DIRECTORY).certcentral_key_id == "1001"
    # that one is lost in turn, and the schedule runs: CertCentral makes the next one like it, and revokes it
    mark_lost(DIRECTORY, world.ctx, "alice")
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    for which in STEPS:
        step(world, which)
    rotated_set(world, made)
    assert world.certcentral.likes == [None, "1001"]
    assert world.certcentral.keys == {"1001": "revoked", "1002": "active"}
    assert world.records.state(DIRECTORY).status is DirectoryStatus.ACTIVE
    assert "lost credential revoked at CertCentral" in world.actions()


def test_an_interrupted_certcentral_replacement_resumes_with_the_credential_it_made(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.certcentral = FakeCredentialProvider(world.ca)
    crash_after(monkeypatch, world.ca, "register", always)
    with pytest.raises(Killed):
        replace_credential(DIRECTORY, NewCredential(None), world.ctx, "alice")
    monkeypatch.undo()
    stalled = world.records.rotation(DIRECTORY)
    done = replace_credential(DIRECTORY, NewCredential(None), world.ctx, "alice")
    assert stalled is not None and done.token == stalled.token
    assert world.certcentral.keys == {"1001": "active"}  # no second credential made
    assert done.certcentral_key_id == "1001" and world.records.state(DIRECTORY).certcentral_key_id == "1001"


def test_a_person_cannot_roll_over_a_lost_directory_even_with_certcentral(world: World) -> None:
    world.certcentral = FakeCredentialProvider(world.ca)
    mark_lost(DIRECTORY, world.ctx, "alice")
    with pytest.raises(DirectoryLost):
        rotate_account_key(DIRECTORY, world.ctx, "alice")
    assert world.certcentral.keys == {} and world.records.rotation(DIRECTORY) is None


def test_without_certcentral_a_replacement_asking_for_it_is_refused(world: World) -> None:
    with pytest.raises(ValidationError, match="CertCentral is not configured"):
        replace_credential(DIRECTORY, NewCredential(None), world.ctx, "alice")
    assert world.secrets.all_labels(DIRECTORY) == ["AWSCURRENT"]


def test_a_certcentral_api_key_it_refuses_stages_nothing(world: World) -> None:
    world.certcentral = FakeCredentialProvider(world.ca)
    world.certcentral.refuses_api_key = True
    with pytest.raises(CredentialRejected, match="API key was refused"):
        replace_credential(DIRECTORY, NewCredential(None), world.ctx, "alice")
    assert world.secrets.all_labels(DIRECTORY) == ["AWSCURRENT"]


# -- superseded certificates ---------------------------------------------------------------------------


def replaced_with_revocations(world: World) -> DirectoryCredential:
    """A replacement with revoke_previous of a directory with certificates a and b (and c elsewhere)."""
    before = world.current()
    world.store.issued("a", DIRECTORY, before.account_url, "01", OLD_CA)
    world.store.issued("b", DIRECTORY, before.account_url, "02", None)  # issued before issuers were recorded
    world.store.issued("c", "other", before.account_url, "03", OLD_CA)
    world.store.issued("d", DIRECTORY, before.account_url, "04", OLD_CA)
    world.store.change("d", status=Status.REVOKED)
    replace_credential(DIRECTORY, replacement(revoke_previous=True), world.ctx, "alice")
    return world.current()


def test_superseded_certificates_wait_for_their_replacements_then_are_revoked_where_they_were_issued(
    world: World,
) -> None:
    old = world.current()
    new = replaced_with_revocations(world)
    entries = {e.certificate: e for e in world.records.revocations(DIRECTORY)}
    assert sorted(entries) == ["a", "b"]
    assert {e.state for e in entries.values()} == {RevocationState.WAITING}
    assert (entries["a"].directory_url, entries["b"].directory_url) == (OLD_CA, OLD_CA)
    assert directory_detail(DIRECTORY, world.secrets, world.records)["revocations_waiting"] == ["a", "b"]
    # nothing is revoked before its replacement is served
    assert complete_revocations(DIRECTORY, world.ctx) == []
    assert revoke_replaced("a", world.ctx) == []
    # a is re-issued through the new account: its old certificate is revoked, signed with its own key
    old_pem = world.store.get("a").state.certificate_pem
    world.store.change("a", serial="11", account_url=new.account_url, certificate_pem="new pem of a")
    assert revoke_replaced("a", world.ctx) == ["a"]
    assert world.ca.revoked == {(OLD_CA, old_pem): 4}
    [a] = world.records.revocations(DIRECTORY, "a")
    assert a.state is RevocationState.REVOKED and a.revoked_at == world.clock.now
    assert world.store.histories["a"][-1]["action"] == "previous certificate revoked"
    assert world.outlets.of_type("Certificate Revoked") == [
        {"certificate": "a", "serial": "01", "reason": "superseded", "revoked_at": world.clock.now.isoformat()}
    ]
    assert revoke_replaced("a", world.ctx) == []  # once
    assert directory_detail(DIRECTORY, world.secrets, world.records)["revocations_waiting"] == ["b"]
    assert old.account_url != new.account_url


def test_a_superseded_certificate_whose_key_is_gone_is_given_up(world: World) -> None:
    new = replaced_with_revocations(world)
    world.store.keys.clear()
    world.store.change("a", serial="11", account_url=new.account_url)
    assert complete_revocations(DIRECTORY, world.ctx) == []  # given up, not revoked
    [a] = world.records.revocations(DIRECTORY, "a")
    assert (a.state, a.error) == (RevocationState.FAILED, "its private key is no longer in S3")
    assert world.ca.revoked == {}
    assert world.records.actions(DIRECTORY)[-1] == ("previous certificate revoked", "failed")


def test_an_entry_noted_before_issuers_were_recorded_is_revoked_at_the_previous_directory(world: World) -> None:
    new = replaced_with_revocations(world)
    stored = world.records.superseded[DIRECTORY]["b"]
    del stored["directory_url"]  # as items written by earlier versions are
    world.store.change("b", serial="12", account_url=new.account_url)
    assert complete_revocations(DIRECTORY, world.ctx, "b") == ["b"]
    assert [url for url, _ in world.ca.revoked] == [OLD_CA]


def test_a_certificate_renewed_by_the_old_account_is_not_revoked(world: World) -> None:
    old = world.current()
    replaced_with_revocations(world)
    world.store.change("a", serial="11")  # a new serial, but from the account being replaced
    assert complete_revocations(DIRECTORY, world.ctx) == []
    assert world.records.revocations(DIRECTORY, "a")[0].state is RevocationState.WAITING
    assert world.store.get("a").state.account_url == old.account_url


def test_a_certificate_the_ca_revoked_already_counts_as_revoked(world: World) -> None:
    new = replaced_with_revocations(world)
    world.ca.revoke_with_key(OLD_CA, world.store.get("a").state.certificate_pem or "", "key", 1)
    world.store.change("a", serial="11", account_url=new.account_url)
    assert complete_revocations(DIRECTORY, world.ctx) == ["a"]
    assert world.records.revocations(DIRECTORY, "a")[0].state is RevocationState.REVOKED


def test_revoke_replaced_ignores_a_certificate_no_longer_managed_and_refuses_a_bad_name(world: World) -> None:
    assert revoke_replaced("gone", world.ctx) == []
    with pytest.raises(ValidationError):
        revoke_replaced("Not A Name!", world.ctx)


# -- what people are shown -----------------------------------------------------------------------------


def test_the_directory_report_shows_a_rotation_in_progress(world: World) -> None:
    world.secrets.start_rotation(DIRECTORY, TOKEN)
    step(world, "createSecret")
    report = directory_detail(DIRECTORY, world.secrets, world.records)
    assert report["rotation"]["outcome"] == "in progress" and report["rotation"]["finished_at"] is None
    assert report["rotation"]["steps_done"] == ["created"] and report["rotation"]["source"] == "schedule"


def test_the_directory_report_shows_the_last_rotation_and_the_history(world: World) -> None:
    done = rotate_account_key(DIRECTORY, world.ctx, "alice")
    report = directory_detail(DIRECTORY, world.secrets, world.records, 2)
    assert report["state"] == "active" and report["marked_lost"] is None and report["policy"] is None
    assert report["rotation"] == {
        "kind": "key-rollover",
        "token": done.token,
        "source": "operator",
        "actor": "alice",
        "started_at": world.clock.now.isoformat(),
        "finished_at": world.clock.now.isoformat(),
        "outcome": "rotated",
        "steps_done": ["created", "set", "tested", "promoted"],
        "account_url": world.current().account_url,
        "previous_account_url": world.current().account_url,
        "revoke_previous": False,
    }
    assert [h["action"] for h in report["history"]] == ["rotation finished", "new credential made current"]
    assert directory_detail(DIRECTORY, world.secrets, world.records, 0)["history"] == []
