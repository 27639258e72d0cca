"""Who may get which certificate, through ApiFunction as API Gateway calls it, signed as several principals.

Two teams share one stack: team A (its CI role's sessions) may use directory A for names under
team-a.example.com; team B (its role, and the IAM user carol) directory B for team-b.example.com and
shared-b.example.net; carol is allowed on both; directory N has no policy (admins only). The admin is
the operator role the sample events are signed by (the local stack's ACMEVAULT_ADMIN_PRINCIPALS).

Every refusal is checked to be 403 with the field it names, and to change nothing: the table (every
item but the audit history), the secrets' versions, ACM, S3's object versions and the issue queue are
compared before and after, and the audit history grows by exactly the refusal, with the caller's ARN.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from acmevault.app.issuance import issue_certificate
from acmevault.composition.services import services

from tests.e2e.api_client import NO_IDENTITY, Reply, call, event, sample
from tests.e2e.test_api import pebble_status
from tests.e2e.test_handlers import drain

ACCOUNT = "123456789012"
ADMIN = f"arn:aws:sts::{ACCOUNT}:assumed-role/pki-operator/pki-operator"
TEAM_A = f"arn:aws:sts::{ACCOUNT}:assumed-role/team-a-deploy/ci-run-17"
TEAM_A_ALICE = f"arn:aws:sts::{ACCOUNT}:assumed-role/team-a-release/alice@example.com"
TEAM_B = f"arn:aws:sts::{ACCOUNT}:assumed-role/team-b-deploy/ci"
CAROL = f"arn:aws:iam::{ACCOUNT}:user/carol"  # an IAM user, allowed on both directories
MALLORY = f"arn:aws:iam::{ACCOUNT}:user/mallory"  # signed, in no policy
ADMIN_LOOKALIKE = f"arn:aws:sts::{ACCOUNT}:assumed-role/pki-operator-x/pki-operator"
TEAM_A_ELSEWHERE = "arn:aws:sts::210987654321:assumed-role/team-a-deploy/ci"  # same role name, another account
HISTORY_PREFIXES = ("HIST#", "DIRHIST#")


@dataclass
class World:
    tag: str
    dir_a: str
    dir_b: str
    dir_n: str
    cert_a: str  # team A's, defined, never issued
    cert_b: str
    cert_n: str  # in the directory without a policy
    issued_a: str  # team A's, issued (for key_type and revocation)
    serial_a: str

    def domain(self, team: str, label: str = "www") -> str:
        return f"{label}-{self.tag}.team-{team}.example.com"


def as_(principal: Any, file: str, **parts: Any) -> dict[str, Any]:
    return event(file, principal=principal, **parts)


def put_cert(principal: Any, name: str, directory: str, domains: list[str], **more: Any) -> dict[str, Any]:
    return as_(
        principal, "api-put-certificate.json", name=name, body={"domains": domains, "directory": directory, **more}
    )


def put_policy(principal: Any, directory: str, domains: list[str], principals: list[str]) -> dict[str, Any]:
    body = {"allowed_domains": domains, "allowed_principals": principals}
    return as_(principal, "api-put-directory-policy.json", name=directory, body=body)


@pytest.fixture(scope="module")
def world(stack: Any) -> World:
    tag = uuid.uuid4().hex[:8]
    names = {d: f"authz-{d}-{tag}" for d in ("a", "b", "n")}
    for directory in names.values():
        body = json.loads(sample("api-put-directory.json")["body"])
        body.update(directory_url=stack.directory_url, eab_kid="kid-1", eab_hmac_key=stack.hmac("kid-1"))
        assert call(stack, as_(ADMIN, "api-put-directory.json", name=directory, body=body)).status == 201
    team_a = [f"arn:aws:iam::{ACCOUNT}:role/team-a-*", CAROL]
    team_b = [f"arn:aws:iam::{ACCOUNT}:role/team-b-deploy", CAROL]
    policies = {"a": (["team-a.example.com"], team_a), "b": (["team-b.example.com", "*.shared-b.example.net"], team_b)}
    for team, (domains, principals) in policies.items():
        assert call(stack, put_policy(ADMIN, names[team], domains, principals)).status == 200
    w = World(tag, names["a"], names["b"], names["n"], f"ca-{tag}", f"cb-{tag}", f"cn-{tag}", f"ia-{tag}", "")
    for principal, cert, directory, team in (
        (TEAM_A, w.cert_a, w.dir_a, "a"),
        (TEAM_B, w.cert_b, w.dir_b, "b"),
        (ADMIN, w.cert_n, w.dir_n, "n"),
        (TEAM_A, w.issued_a, w.dir_a, "a"),
    ):
        created = call(stack, put_cert(principal, cert, directory, [w.domain(team, cert)]))
        assert created.status == 201, created.body
    w.serial_a = str(issue_certificate(w.issued_a, services(), time.monotonic() + 120).state.serial)
    return w


# -- state, before and after -----------------------------------------------------------------------


def _items(stack: Any) -> list[dict[str, Any]]:
    pages = stack.aws("dynamodb").get_paginator("scan").paginate(TableName=stack.env["ACMEVAULT_TABLE"])
    return [item for page in pages for item in page["Items"]]


def state(stack: Any, world: World | None = None) -> dict[str, Any]:
    """Everything a request could change except the audit history: table items, secret versions, ACM
    certificates, S3 object versions, messages in the issue queue, and (given the world) the orders
    Pebble lists for each of its directories' accounts."""
    items = _items(stack)
    sm, acm, s3, sqs = (stack.aws(s) for s in ("secretsmanager", "acm", "s3", "sqs"))
    secrets = {
        s["Name"]: sorted(s.get("SecretVersionsToStages", {}))
        for page in sm.get_paginator("list_secrets").paginate()
        for s in page["SecretList"]
    }
    key_types = ["EC_prime256v1", "EC_secp384r1", "RSA_2048", "RSA_3072", "RSA_4096"]
    certificates = sorted(
        (
            c["CertificateArn"],
            json.dumps(acm.describe_certificate(CertificateArn=c["CertificateArn"])["Certificate"].get("Serial")),
        )
        for c in acm.list_certificates(Includes={"keyTypes": key_types})["CertificateSummaryList"]
    )
    versions = s3.get_paginator("list_object_versions").paginate(Bucket=stack.env["ACMEVAULT_BUCKET"])
    objects = sorted((v["Key"], v["VersionId"]) for page in versions for v in page.get("Versions", []))
    queued = sqs.get_queue_attributes(
        QueueUrl=stack.env["ACMEVAULT_QUEUE_URL"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    directories = (world.dir_a, world.dir_b, world.dir_n) if world else ()
    orders = {d: sorted(services().accounts.session(d).order_urls()) for d in directories}
    return {
        "orders": orders,
        "items": sorted(repr(i) for i in items if not i["pk"]["S"].startswith(HISTORY_PREFIXES)),
        "secrets": secrets,
        "acm": certificates,
        "s3": objects,
        "queue": queued,
    }


def audit(stack: Any) -> dict[str, dict[str, Any]]:
    """The audit history items (certificates' and directories'), by key."""
    found = {}
    for item in _items(stack):
        if item["pk"]["S"].startswith(HISTORY_PREFIXES):
            found[item["pk"]["S"] + "|" + item["sk"]["S"]] = {k: next(iter(v.values())) for k, v in item.items()}
    return found


@pytest.fixture
def quiet_queue(stack: Any) -> Any:
    sqs, url = stack.aws("sqs"), stack.env["ACMEVAULT_QUEUE_URL"]
    drain(sqs, url)
    yield sqs, url
    drain(sqs, url)


# -- refusals --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    label: str
    principal: Any
    request: Callable[[World], dict[str, Any]]
    field: str
    says: str  # a piece of the message: what was refused
    audited_in: Callable[[World], str] | None  # the history partition the refusal is written to


def _dir(w: World) -> str:
    return "DIRHIST#"


REFUSALS = [
    # directory routes are for admins only, whoever is allowed to use the directory
    Refusal(
        "team A vaults a directory",
        TEAM_A,
        lambda w: as_(
            TEAM_A,
            "api-put-directory.json",
            name=f"x-{w.tag}",
            body={"directory_url": "https://127.0.0.1:1/dir"},
        ),
        "route",
        "for admins only",
        lambda w: f"DIRHIST#x-{w.tag}",
    ),
    Refusal(
        "team A sets its own directory's policy",
        TEAM_A,
        lambda w: put_policy(TEAM_A, w.dir_a, ["example.com"], [TEAM_A]),
        "route",
        "for admins only",
        lambda w: f"DIRHIST#{w.dir_a}",
    ),
    Refusal(
        "team B sets team A's policy",
        TEAM_B,
        lambda w: put_policy(TEAM_B, w.dir_a, [], [TEAM_B]),
        "route",
        "PUT /directories/{name}/policy",
        lambda w: f"DIRHIST#{w.dir_a}",
    ),
    Refusal(
        "IAM user carol rotates directory B",
        CAROL,
        lambda w: as_(CAROL, "api-post-directory-rotate.json", name=w.dir_b, body=None),
        "route",
        "for admins only",
        lambda w: f"DIRHIST#{w.dir_b}",
    ),
    Refusal(
        "team A marks its directory lost",
        TEAM_A,
        lambda w: as_(TEAM_A, "api-post-directory-revoke.json", name=w.dir_a),
        "route",
        "for admins only",
        lambda w: f"DIRHIST#{w.dir_a}",
    ),
    Refusal(
        "a stranger sets a policy",
        MALLORY,
        lambda w: put_policy(MALLORY, w.dir_n, [], [MALLORY]),
        "route",
        MALLORY,
        lambda w: f"DIRHIST#{w.dir_n}",
    ),
    Refusal(
        "a look-alike of the admin role sets a policy",
        ADMIN_LOOKALIKE,
        lambda w: put_policy(ADMIN_LOOKALIKE, w.dir_a, [], [ADMIN_LOOKALIKE]),
        "route",
        "for admins only",
        lambda w: f"DIRHIST#{w.dir_a}",
    ),
    # reading a directory: admins and the principals it allows
    Refusal(
        "team B reads directory A",
        TEAM_B,
        lambda w: as_(TEAM_B, "api-get-directory.json", name=w.dir_a),
        "name",
        "does not allow",
        lambda w: f"DIRHIST#{w.dir_a}",
    ),
    Refusal(
        "team A reads the directory without a policy",
        TEAM_A,
        lambda w: as_(TEAM_A, "api-get-directory.json", name=w.dir_n),
        "name",
        "does not allow",
        lambda w: f"DIRHIST#{w.dir_n}",
    ),
    # certificate routes of another team
    Refusal(
        "team B reads team A's certificate",
        TEAM_B,
        lambda w: as_(TEAM_B, "api-get-certificate.json", name=w.cert_a),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.cert_a}",
    ),
    Refusal(
        "team B changes team A's certificate",
        TEAM_B,
        lambda w: put_cert(TEAM_B, w.cert_a, w.dir_a, [w.domain("a", "x")]),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.cert_a}",
    ),
    Refusal(
        "team B deletes team A's certificate",
        TEAM_B,
        lambda w: as_(TEAM_B, "api-delete-certificate.json", name=w.cert_a, query=None),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.cert_a}",
    ),
    Refusal(
        "team B renews team A's certificate",
        TEAM_B,
        lambda w: as_(TEAM_B, "api-post-certificate-renew.json", name=w.cert_a),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.cert_a}",
    ),
    Refusal(
        "team B resets team A's certificate",
        TEAM_B,
        lambda w: as_(TEAM_B, "api-post-certificate-reset.json", name=w.cert_a),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.cert_a}",
    ),
    Refusal(
        "team B revokes team A's issued certificate",
        TEAM_B,
        lambda w: as_(TEAM_B, "api-post-certificate-revoke.json", name=w.issued_a, body={"reason": "keyCompromise"}),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.issued_a}",
    ),
    Refusal(
        "team B deletes and revokes team A's issued certificate",
        TEAM_B,
        lambda w: as_(
            TEAM_B, "api-delete-certificate.json", name=w.issued_a, query={"revoke": "true", "reason": "superseded"}
        ),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.issued_a}",
    ),
    Refusal(
        "a stranger reads team B's certificate",
        MALLORY,
        lambda w: as_(MALLORY, "api-get-certificate.json", name=w.cert_b),
        "name",
        MALLORY,
        lambda w: f"HIST#{w.cert_b}",
    ),
    Refusal(
        "team A's role name in another account reads team A's certificate",
        TEAM_A_ELSEWHERE,
        lambda w: as_(TEAM_A_ELSEWHERE, "api-get-certificate.json", name=w.cert_a),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.cert_a}",
    ),
    Refusal(
        "team A defines a certificate in team B's directory",
        TEAM_A,
        lambda w: put_cert(TEAM_A, f"new-{w.tag}", w.dir_b, [w.domain("b", "a-sneaks")]),
        "name",
        "does not allow",
        lambda w: f"HIST#new-{w.tag}",
    ),
    Refusal(
        "team A defines a certificate in the directory without a policy",
        TEAM_A,
        lambda w: put_cert(TEAM_A, f"new-{w.tag}", w.dir_n, [w.domain("a", "n")]),
        "name",
        "does not allow",
        lambda w: f"HIST#new-{w.tag}",
    ),
    Refusal(
        "team A reads the admins' certificate",
        TEAM_A,
        lambda w: as_(TEAM_A, "api-get-certificate.json", name=w.cert_n),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.cert_n}",
    ),
    Refusal(
        "team A renews the admins' certificate",
        TEAM_A,
        lambda w: as_(TEAM_A, "api-post-certificate-renew.json", name=w.cert_n),
        "name",
        "does not allow",
        lambda w: f"HIST#{w.cert_n}",
    ),
    # names outside the directory's allowed_domains: for everyone
    Refusal(
        "team A asks for team B's name",
        TEAM_A,
        lambda w: put_cert(TEAM_A, f"new-{w.tag}", w.dir_a, [w.domain("b")]),
        "domains",
        "team-b.example.com",
        lambda w: f"HIST#new-{w.tag}",
    ),
    Refusal(
        "team A asks for a look-alike with a suffix",
        TEAM_A,
        lambda w: put_cert(TEAM_A, f"new-{w.tag}", w.dir_a, ["team-a.example.com.evil.net"]),
        "domains",
        "team-a.example.com.evil.net",
        lambda w: f"HIST#new-{w.tag}",
    ),
    Refusal(
        "team A asks for a look-alike with a prefix",
        TEAM_A,
        lambda w: put_cert(TEAM_A, f"new-{w.tag}", w.dir_a, ["xteam-a.example.com"]),
        "domains",
        "xteam-a.example.com",
        lambda w: f"HIST#new-{w.tag}",
    ),
    Refusal(
        "team A hides the parent domain second",
        TEAM_A,
        lambda w: put_cert(TEAM_A, f"new-{w.tag}", w.dir_a, [w.domain("a"), "example.com"]),
        "domains",
        "'example.com'",
        lambda w: f"HIST#new-{w.tag}",
    ),
    Refusal(
        "team A asks for a wildcard over the parent",
        TEAM_A,
        lambda w: put_cert(TEAM_A, f"new-{w.tag}", w.dir_a, ["*.example.com"]),
        "domains",
        "*.example.com",
        lambda w: f"HIST#new-{w.tag}",
    ),
    Refusal(
        "team A adds a foreign name to its own certificate",
        TEAM_A,
        lambda w: put_cert(TEAM_A, w.cert_a, w.dir_a, [w.domain("a", w.cert_a), "www.evil.net"]),
        "domains",
        "www.evil.net",
        lambda w: f"HIST#{w.cert_a}",
    ),
    Refusal(
        "the admin asks for a name outside the directory's domains",
        ADMIN,
        lambda w: put_cert(ADMIN, f"new-{w.tag}", w.dir_a, [w.domain("b")]),
        "domains",
        "not inside the allowed domains",
        lambda w: f"HIST#new-{w.tag}",
    ),
    Refusal(
        "team B asks for a name beside its wildcard entry",
        TEAM_B,
        lambda w: put_cert(TEAM_B, f"new-{w.tag}", w.dir_b, ["shared-b.example.net.evil.net"]),
        "domains",
        "shared-b.example.net.evil.net",
        lambda w: f"HIST#new-{w.tag}",
    ),
    # moving a certificate to another directory is for admins, even for a principal allowed on both
    Refusal(
        "carol moves team A's certificate to directory B",
        CAROL,
        lambda w: put_cert(CAROL, w.cert_a, w.dir_b, [w.domain("b", "moved")]),
        "directory",
        "for admins only",
        lambda w: f"HIST#{w.cert_a}",
    ),
    # no identity: refused, never a 500
    Refusal(
        "no identity rotates a directory",
        NO_IDENTITY,
        lambda w: as_(NO_IDENTITY, "api-post-directory-rotate.json", name=w.dir_a, body=None),
        "requestContext.identity",
        "no IAM caller identity",
        None,
    ),
    Refusal(
        "no identity lists certificates",
        NO_IDENTITY,
        lambda w: as_(NO_IDENTITY, "api-get-certificates.json"),
        "requestContext.identity",
        "no IAM caller identity",
        None,
    ),
    Refusal(
        "no userArn defines a certificate",
        None,
        lambda w: put_cert(None, f"new-{w.tag}", w.dir_a, [w.domain("a")]),
        "requestContext.identity",
        "no IAM caller identity",
        None,
    ),
    Refusal(
        "no userArn lists directories",
        None,
        lambda w: as_(None, "api-get-directories.json"),
        "requestContext.identity",
        "no IAM caller identity",
        None,
    ),
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda c: c.label)
def test_a_refusal_is_403_naming_what_was_refused_and_changes_nothing_but_the_audit(stack, world, quiet_queue, case):
    # GIVEN the state of everything a request could change, and the audit history
    before, history_before = state(stack, world), audit(stack)
    # WHEN the request is made, signed as the case's principal
    reply = call(stack, case.request(world))
    # THEN it is refused, naming what, and nothing changed
    assert reply.status == 403, reply.body
    assert reply.body["error"] == "forbidden"
    assert reply.body["field"] == case.field
    assert case.says in reply.body["message"]
    assert state(stack, world) == before
    # AND the refusal, with the principal, is the only new audit entry (a request without identity has none)
    new = [entry for key, entry in audit(stack).items() if key not in history_before]
    if case.audited_in is None:
        assert new == []
    else:
        assert len(new) == 1, new
        (entry,) = new
        assert entry["pk"] == case.audited_in(world)
        assert (entry["outcome"], entry["actor"]) == ("refused", case.principal)
        assert entry["reason"] == reply.body["message"]


def test_revocations_refused_leave_the_certificate_valid_at_the_ca(stack, world):
    assert pebble_status(stack, world.serial_a)["Status"] == "Valid"
    assert state(stack, world)["orders"][world.dir_a], "the snapshot must see team A's order at Pebble"


@pytest.mark.parametrize("principal", [TEAM_A, ADMIN])
def test_the_key_type_of_an_issued_certificate_cannot_change(stack, world, quiet_queue, principal):
    before, history_before = state(stack, world), audit(stack)
    request = put_cert(principal, world.issued_a, world.dir_a, [world.domain("a", world.issued_a)], key_type="rsa-2048")
    reply = call(stack, request)
    assert reply.status == 409, reply.body
    assert reply.body["error"] == "conflict"
    assert "define a new certificate" in reply.body["message"]
    assert state(stack, world) == before and audit(stack) == history_before


# -- what each may do ------------------------------------------------------------------------------


def _history(reply: Reply) -> list[dict[str, Any]]:
    return [h for h in reply.body["history"] if h["action"] == "authorization"]


@pytest.mark.parametrize(
    ("principal", "certificate"),
    [
        (TEAM_A, "cert_a"),
        (TEAM_A_ALICE, "cert_a"),  # another session of another team A role (role/team-a-*)
        (CAROL, "cert_a"),
        (CAROL, "cert_b"),
        (TEAM_B, "cert_b"),
        (ADMIN, "cert_a"),
        (ADMIN, "cert_b"),
        (ADMIN, "cert_n"),
    ],
)
def test_a_principal_the_directory_allows_reads_its_certificates(stack, world, principal, certificate):
    name = getattr(world, certificate)
    reply = call(stack, as_(principal, "api-get-certificate.json", name=name))
    assert reply.status == 200, reply.body
    assert reply.body["name"] == name


def test_team_a_defines_renews_and_deletes_its_own_certificate_and_each_change_is_audited(stack, world, quiet_queue):
    sqs, url = quiet_queue
    name = f"own-{world.tag}"
    domains = [f"*.{world.domain('a', 'own')}", world.domain("a", "own")]  # *.a.b counts as a.b
    created = call(stack, put_cert(TEAM_A, name, world.dir_a, domains))
    assert created.status == 201, created.body
    renewed = call(stack, as_(TEAM_A_ALICE, "api-post-certificate-renew.json", name=name))
    assert renewed.status == 202, renewed.body
    assert [m["certificate"] for m in drain(sqs, url)] == [name]
    shown = call(stack, as_(TEAM_A, "api-get-certificate.json", name=name))
    assert [(h["route"], h["actor"], h["outcome"]) for h in _history(shown)] == [
        ("POST /certificates/{name}/renew", TEAM_A_ALICE, "allowed"),
        ("PUT /certificates/{name}", TEAM_A, "allowed"),
    ]
    deleted = call(stack, as_(TEAM_A, "api-delete-certificate.json", name=name, query=None))
    assert deleted.status == 200 and deleted.body["deleted"] is True
    assert call(stack, as_(ADMIN, "api-get-certificate.json", name=name)).status == 404


def test_team_b_uses_its_wildcard_entry_and_carol_may_use_both_directories(stack, world):
    name = f"shared-{world.tag}"
    created = call(stack, put_cert(TEAM_B, name, world.dir_b, [f"api.{world.tag}.shared-b.example.net"]))
    assert created.status == 201, created.body
    changed = call(
        stack, put_cert(CAROL, name, world.dir_b, [f"api.{world.tag}.shared-b.example.net"], key_type="ec-p384")
    )
    assert changed.status == 200 and changed.body["key_type"] == "ec-p384"


def test_team_a_revokes_its_own_issued_certificate_at_the_ca(stack, cli, world):
    name = f"rev-{world.tag}"
    assert call(stack, put_cert(TEAM_A, name, world.dir_a, [world.domain("a", "rev")])).status == 201
    assert cli("cert", "issue", name).code == 0
    serial = call(stack, as_(TEAM_A, "api-get-certificate.json", name=name)).body["serial"]
    revoked = call(stack, as_(TEAM_A, "api-post-certificate-revoke.json", name=name, body={"reason": "superseded"}))
    assert revoked.status == 200, revoked.body
    assert pebble_status(stack, serial)["Status"] == "Revoked"


def test_the_admin_moves_a_certificate_to_another_directory(stack, world):
    name = f"move-{world.tag}"
    assert call(stack, put_cert(TEAM_A, name, world.dir_a, [world.domain("a", "move")])).status == 201
    moved = call(stack, put_cert(ADMIN, name, world.dir_n, [world.domain("a", "move")]))
    assert moved.status == 200 and moved.body["directory"] == world.dir_n
    # team A no longer sees it: the directory without a policy is for admins only
    assert call(stack, as_(TEAM_A, "api-get-certificate.json", name=name)).status == 403


def _listed(stack: Any, principal: str, limit: int) -> list[str]:
    names, after = [], None
    for _ in range(10_000):
        query = {"limit": str(limit), **({"after": after} if after else {})}
        reply = call(stack, as_(principal, "api-get-certificates.json", query=query))
        assert reply.status == 200, reply.body
        assert len(reply.body["certificates"]) <= limit
        names += [c["name"] for c in reply.body["certificates"]]
        after = reply.body["next"]
        if after is None:
            return names
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_each_principal_lists_only_the_certificates_it_may_see_and_paging_still_works(stack, world, limit):
    fixture = {world.cert_a: "a", world.issued_a: "a", world.cert_b: "b", world.cert_n: "n"}
    seen = {p: [n for n in _listed(stack, p, limit) if n in fixture] for p in (TEAM_A, TEAM_B, CAROL, MALLORY, ADMIN)}
    assert seen[TEAM_A] == sorted([world.cert_a, world.issued_a])
    assert seen[TEAM_B] == [world.cert_b]
    assert seen[CAROL] == sorted([world.cert_a, world.issued_a, world.cert_b])
    assert seen[MALLORY] == []
    assert seen[ADMIN] == sorted(fixture)
    everything = _listed(stack, TEAM_A, limit)
    assert everything == sorted(everything) and len(everything) == len(set(everything))  # name order, no repeats


def test_directories_are_listed_and_shown_with_their_policy_to_those_they_allow(stack, world):
    fixture = {world.dir_a, world.dir_b, world.dir_n}
    listed = call(stack, as_(TEAM_A, "api-get-directories.json")).body["directories"]
    assert {d["name"] for d in listed} & fixture == {world.dir_a}
    listed = call(stack, as_(ADMIN, "api-get-directories.json")).body["directories"]
    assert {d["name"] for d in listed} & fixture == fixture
    shown = call(stack, as_(TEAM_A, "api-get-directory.json", name=world.dir_a))
    assert shown.status == 200
    assert shown.body["policy"] == {
        "allowed_domains": ["team-a.example.com"],
        "allowed_principals": [f"arn:aws:iam::{ACCOUNT}:role/team-a-*", CAROL],
    }
    assert call(stack, as_(ADMIN, "api-get-directory.json", name=world.dir_n)).body["policy"] is None


def test_the_admin_sets_a_policy_and_it_is_audited_with_the_admin(stack, world):
    directory = world.dir_n
    reply = call(stack, put_policy(ADMIN, directory, [], []))  # an empty policy: still admins only
    assert reply.status == 200, reply.body
    assert reply.body["policy"] == {"allowed_domains": [], "allowed_principals": []}
    set_entries = [h for h in reply.body["history"] if h["action"] == "policy set"]
    assert set_entries[0]["actor"] == ADMIN
    assert call(stack, as_(TEAM_A, "api-get-certificate.json", name=world.cert_n)).status == 403


def test_a_bad_policy_is_400_naming_the_field_and_changes_nothing(stack, world):
    before = state(stack)
    reply = call(stack, put_policy(ADMIN, world.dir_a, ["team-a.example.com"], ["*"]))
    assert reply.status == 400 and reply.body["field"] == "allowed_principals"
    assert state(stack) == before


# -- the command line ------------------------------------------------------------------------------


def test_the_cli_is_held_to_the_directorys_domains_too(stack, cli, world):
    before, history_before = state(stack), audit(stack)
    result = cli("cert", "put", f"cli-{world.tag}", "-d", world.domain("b"), "--directory", world.dir_a)
    assert result.code == 1
    assert "not inside the allowed domains" in result.err and world.domain("b") in result.err
    assert state(stack) == before
    new = [entry for key, entry in audit(stack).items() if key not in history_before]
    assert [(e["outcome"], e["via"]) for e in new] == [("refused", "cli")]
    # inside them, the operator's change is made and audited with the operator's AWS principal
    name = f"cli-{world.tag}"
    assert cli("cert", "put", name, "-d", world.domain("a", "cli"), "--directory", world.dir_a).code == 0
    assert cli("cert", "delete", name).code == 0
    entries = [e for e in audit(stack).values() if e["pk"] == f"HIST#{name}" and e.get("outcome") == "allowed"]
    assert sorted(e["route"] for e in entries) == ["cert delete", "cert put"]
    assert all(e["actor"].startswith(f"arn:aws:sts::{ACCOUNT}:user/moto") and e["via"] == "cli" for e in entries)


def test_the_cli_sets_and_shows_a_policy(stack, cli, world):
    directory = f"cli-{world.tag}"
    body = json.loads(sample("api-put-directory.json")["body"])
    body.update(directory_url=stack.directory_url, eab_kid="kid-1", eab_hmac_key=stack.hmac("kid-1"))
    assert call(stack, as_(ADMIN, "api-put-directory.json", name=directory, body=body)).status == 201
    role = f"arn:aws:iam::{ACCOUNT}:role/team-c-deploy"
    result = cli("directory", "policy", directory, "--allow-domain", "team-c.example.com", "--allow-principal", role)
    assert result.code == 0, result.err
    shown = cli("directory", "show", directory, "--json")
    assert json.loads(shown.out)["policy"] == {"allowed_domains": ["team-c.example.com"], "allowed_principals": [role]}
    refused = cli("directory", "policy", directory, "--allow-principal", "*")
    assert refused.code == 2 and "allowed_principals" in refused.err


def test_a_narrowed_policy_stops_the_next_issuance_of_names_it_no_longer_allows(stack, cli, world):
    # GIVEN a certificate defined while its directory allowed its name, and then the policy narrowed
    directory, name = f"narrow-{world.tag}", f"narrowed-{world.tag}"
    body = json.loads(sample("api-put-directory.json")["body"])
    body.update(directory_url=stack.directory_url, eab_kid="kid-1", eab_hmac_key=stack.hmac("kid-1"))
    assert call(stack, as_(ADMIN, "api-put-directory.json", name=directory, body=body)).status == 201
    assert call(stack, put_policy(ADMIN, directory, ["old.example.com"], [])).status == 200
    assert call(stack, put_cert(ADMIN, name, directory, [f"www-{world.tag}.old.example.com"])).status == 201
    assert call(stack, put_policy(ADMIN, directory, ["new.example.com"], [])).status == 200
    before = state(stack)
    # WHEN the worker comes to issue it
    result = cli("cert", "issue", name)
    # THEN nothing is ordered, imported or written; the record says why
    assert result.code == 1 and "not inside the allowed domains" in result.err
    after = state(stack)
    assert (after["acm"], after["s3"], after["secrets"]) == (before["acm"], before["s3"], before["secrets"])
    shown = call(stack, as_(ADMIN, "api-get-certificate.json", name=name)).body
    assert shown["serial"] is None and "not inside the allowed domains" in shown["last_error"]
