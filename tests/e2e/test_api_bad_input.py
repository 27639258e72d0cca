"""Hostile and careless requests through ApiFunction: each a 4xx naming what was wrong, and nothing changed.

Table, secrets, ACM and S3 are compared before and after every request.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import register_secret
from tests.e2e.api_client import call, event, sample


@dataclass(frozen=True)
class Ctx:
    directory: str  # vaulted
    certificate: str  # defined (never issued)
    fresh: str  # a name nothing has


@dataclass(frozen=True)
class Case:
    label: str
    request: Callable[[Ctx], dict[str, Any]]
    status: int
    field: str | None  # the field the answer must name (None: the error is not about one field)
    text: str  # what the message must say


def cert_body(ctx: Ctx, **changes: Any) -> dict[str, Any]:
    return {"domains": ["bad-input.example.com"], "directory": ctx.directory, **changes}


def put_cert(name: Callable[[Ctx], str] | None = None, **kw: Any) -> Callable[[Ctx], dict[str, Any]]:
    """PUT /certificates/{name}: the body is cert_body() with ``changes``, unless ``body`` is given."""
    changes = kw.pop("changes", {})
    body = kw.pop("body", None)

    def build(ctx: Ctx) -> dict[str, Any]:
        payload = body(ctx) if callable(body) else body if body is not None else cert_body(ctx, **changes)
        return event("api-put-certificate.json", name=(name or (lambda c: c.fresh))(ctx), body=payload, **kw)

    return build


def put_dir(**changes: Any) -> Callable[[Ctx], dict[str, Any]]:
    def build(ctx: Ctx) -> dict[str, Any]:
        body = json.loads(sample("api-put-directory.json")["body"])
        body.update(eab_hmac_key="c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0")  # a well-formed made-up key
        for key, value in changes.items():
            if value is _DROP:
                body.pop(key)
            else:
                body[key] = value
        return event("api-put-directory.json", name=ctx.fresh, body=body)

    return build


def put_policy(body: Any) -> Callable[[Ctx], dict[str, Any]]:
    return lambda ctx: event("api-put-directory-policy.json", name=ctx.directory, body=body)


def revoke_with(body: Any, **kw: Any) -> Callable[[Ctx], dict[str, Any]]:
    return lambda ctx: event("api-post-certificate-revoke.json", name=ctx.certificate, body=body, **kw)


def get_certs(**kw: Any) -> Callable[[Ctx], dict[str, Any]]:
    return lambda ctx: event("api-get-certificates.json", **kw)


def delete_cert(query: dict[str, str]) -> Callable[[Ctx], dict[str, Any]]:
    return lambda ctx: event("api-delete-certificate.json", name=ctx.certificate, query=query)


_DROP: Any = object()
LONG_LABEL = "a" * 64
# Made-up EAB HMAC keys pasted where a field name goes: the leak scanner fails any answer or log that
# carries one. The second is the shortest key the model takes (16 bytes), with no digit in it.
PASTED_KEY = "Xq3vR9tLmW2pZ8sKdY6hN4bJfC7gT1uAeVoIiQ5rSx0"
PASTED_SHORT_KEY = "QvRtLmWpZsKdYhNbJfCgTu"
register_secret(PASTED_KEY, PASTED_SHORT_KEY)
PASTED_FIELD = f"<unknown field, {len(PASTED_KEY)} characters>"


CASES = [
    # -- names in the path: traversal, case, unicode tricks
    Case("upper-case name", put_cert(lambda c: "Web"), 400, "name", "not a valid name"),
    Case("leading hyphen name", put_cert(lambda c: "-web"), 400, "name", "not a valid name"),
    Case("underscore name", put_cert(lambda c: "web_1"), 400, "name", "not a valid name"),
    Case("dot-dot name", put_cert(lambda c: ".."), 400, "name", "not a valid name"),
    Case("encoded traversal", put_cert(lambda c: "..%2F..%2Fetc%2Fpasswd"), 400, "name", "not a valid name"),
    Case("encoded dots", put_cert(lambda c: "%2e%2e"), 400, "name", "not a valid name"),
    Case("unicode name", lambda c: event("api-get-certificate.json", name="wéb"), 400, "name", "not a valid name"),
    Case("fullwidth name", lambda c: event("api-get-certificate.json", name="ｗｅｂ"), 400, "name", "not a valid name"),
    Case("nul in name", lambda c: event("api-get-certificate.json", name="web%00"), 400, "name", "not a valid name"),
    Case("64-character name", put_cert(lambda c: "a" * 64), 400, "name", "not a valid name"),
    Case("name of 5000 characters", put_cert(lambda c: "a" * 5000), 400, "name", "at most 63"),
    Case("directory name upper-case", lambda c: event("api-get-directory.json", name="Demo"), 400, "name", "valid"),
    Case(
        "slash traversal matches no route",
        lambda c: event("api-get-certificate.json", path="/certificates/../directories/x"),
        404,
        None,
        "no route GET /certificates/../directories/x",
    ),
    Case("name in body differs", put_cert(changes={"name": "other"}), 400, "name", "differs from the name"),
    # Powertools' route pattern ends in `$`: without a check, /certificates/web\n reached "web"
    Case("newline after the name", put_cert(lambda c: "web\n"), 400, "name", "'web\\n' is not a valid name"),
    Case("encoded newline", put_cert(lambda c: "web%0A"), 400, "name", "not a valid name"),
    Case(
        "newline after a route word",
        lambda c: event("api-post-certificate-renew.json", path=f"/certificates/{c.certificate}/renew\n"),
        400,
        "path",
        "ends with a newline",
    ),
    Case(
        "a pasted key in an unknown path",
        lambda c: event("api-get-certificate.json", path=f"/certificates/{c.certificate}/{PASTED_KEY}"),
        404,
        None,
        f"/<{len(PASTED_KEY)} characters> (routes",
    ),
    # -- domains
    Case("no domains", put_cert(body=lambda c: {"directory": c.directory}), 400, "domains", "is required"),
    Case("domains a string", put_cert(changes={"domains": "example.com"}), 400, "domains", "must be a list"),
    Case("domains an object", put_cert(changes={"domains": {"a": 1}}), 400, "domains", "must be a list"),
    Case("domain a number", put_cert(changes={"domains": [42]}), 400, "domains", "is not a string"),
    Case("space in a domain", put_cert(changes={"domains": ["exa mple.com"]}), 400, "domains", "not a valid domain"),
    Case("leading hyphen", put_cert(changes={"domains": ["-bad.example.com"]}), 400, "domains", "not a valid domain"),
    Case("empty label", put_cert(changes={"domains": ["a..example.com"]}), 400, "domains", "not a valid domain"),
    Case("label over 63", put_cert(changes={"domains": [f"{LONG_LABEL}.example.com"]}), 400, "domains", "label"),
    Case("single label", put_cert(changes={"domains": ["localhost"]}), 400, "domains", "not a fully qualified"),
    Case("duplicate", put_cert(changes={"domains": ["a.example.com", "A.example.com"]}), 400, "domains", "twice"),
    Case("IPv4", put_cert(changes={"domains": ["192.0.2.1"]}), 400, "domains", "IP address"),
    Case("IPv6", put_cert(changes={"domains": ["[2001:db8::1]"]}), 400, "domains", "IP address"),
    Case("umlaut", put_cert(changes={"domains": ["exämple.com"]}), 400, "domains", "IDNA"),
    Case("cyrillic homograph", put_cert(changes={"domains": ["\u0435xample.com"]}), 400, "domains", "IDNA"),
    Case("zero-width space", put_cert(changes={"domains": ["exa\u200bmple.com"]}), 400, "domains", "IDNA"),
    Case("fullwidth dot", put_cert(changes={"domains": ["www\uff0eexample.com"]}), 400, "domains", "IDNA"),
    Case("right-to-left override", put_cert(changes={"domains": ["\u202emoc.elpmaxe"]}), 400, "domains", "IDNA"),
    Case("trailing newline", put_cert(changes={"domains": ["www.example.com\n"]}), 400, "domains", "valid domain"),
    Case("bare name and newline", put_cert(changes={"domains": ["web\n"]}), 400, "domains", "fully qualified"),
    Case("invalid A-label", put_cert(changes={"domains": ["xn--zz.example.com"]}), 400, "domains", "A-label"),
    Case("-- in positions 3-4", put_cert(changes={"domains": ["ab--cd.example.com"]}), 400, "domains", "3-4"),
    Case("numeric TLD", put_cert(changes={"domains": ["example.123"]}), 400, "domains", "all digits"),
    Case("two trailing dots", put_cert(changes={"domains": ["example.com.."]}), 400, "domains", "valid domain"),
    Case("double wildcard", put_cert(changes={"domains": ["*.*.example.com"]}), 400, "domains", "wildcard"),
    Case("wildcard inside", put_cert(changes={"domains": ["www.*.example.com"]}), 400, "domains", "wildcard"),
    Case(
        "101 names",
        put_cert(changes={"domains": [f"h{i}.example.com" for i in range(101)]}),
        400,
        "domains",
        "at most 100",
    ),
    # -- the rest of a spec
    Case("unknown key type", put_cert(changes={"key_type": "dsa-1024"}), 400, "key_type", "not one of"),
    Case("key type a number", put_cert(changes={"key_type": 256}), 400, "key_type", "not one of"),
    Case("unknown challenge", put_cert(changes={"challenge": "http-01"}), 400, "challenge", "not one of"),
    Case("bad region", put_cert(changes={"acm_regions": ["mars-1"]}), 400, "acm_regions", "not an AWS region"),
    Case("regions a string", put_cert(changes={"acm_regions": "us-east-1"}), 400, "acm_regions", "must be a list"),
    Case("region and newline", put_cert(changes={"acm_regions": ["us-east-1\n"]}), 400, "acm_regions", "region"),
    Case("Arabic-Indic digit", put_cert(changes={"acm_regions": ["us-east-\u0661"]}), 400, "acm_regions", "region"),
    Case("zone id and newline", put_cert(changes={"hosted_zone_id": "Z1\n"}), 400, "hosted_zone_id", "hosted zone"),
    Case("profile and newline", put_cert(changes={"profile": "p\n"}), 400, "profile", "ACME profile"),
    Case("directory and newline", put_cert(changes={"directory": "web\n"}), 400, "directory", "not a valid name"),
    Case(
        "role ARN and newline",
        put_cert(changes={"route53_role_arn": "arn:aws:iam::210987654321:role/x\n"}),
        400,
        "route53_role_arn",
        "not an IAM role ARN",
    ),
    Case("bad zone id", put_cert(changes={"hosted_zone_id": "zone;drop"}), 400, "hosted_zone_id", "hosted zone"),
    Case("bad profile", put_cert(changes={"profile": "a b"}), 400, "profile", "ACME profile"),
    Case("no directory", put_cert(body={"domains": ["a.example.com"]}), 400, "directory", "is required"),
    Case("directory a path", put_cert(changes={"directory": "../x"}), 400, "directory", "not a valid name"),
    Case(
        "directory that does not exist",
        put_cert(changes={"directory": "no-such-directory"}),
        404,
        None,
        "directory 'no-such-directory' does not exist",
    ),
    Case("unknown field", put_cert(changes={"domain": ["a.example.com"]}), 400, "domain", "not a field"),
    Case("a key as a field name", put_cert(changes={PASTED_KEY: "x"}), 400, PASTED_FIELD, "not a field"),
    Case(
        "a short key as a field name",
        put_cert(changes={PASTED_SHORT_KEY: "x"}),
        400,
        f"<unknown field, {len(PASTED_SHORT_KEY)} characters>",
        "not a field",
    ),
    Case(
        "a key as a field name, twice",
        put_cert(body=f'{{"{PASTED_KEY}": 1, "{PASTED_KEY}": 2}}'),
        400,
        PASTED_FIELD,
        "given twice",
    ),
    Case("fraction out of range", put_cert(changes={"renew_fraction": 2}), 400, "renew_fraction", "0.05"),
    # -- bodies: size, media type, JSON
    Case("not JSON", put_cert(body="{domains: [}"), 400, "body", "not valid JSON"),
    Case("JSON array", put_cert(body=["a.example.com"]), 400, "body", "must be a JSON object"),
    Case("JSON string", put_cert(body='"hello"'), 400, "body", "must be a JSON object"),
    Case("JSON null", put_cert(body="null"), 400, "body", "must be a JSON object"),
    Case("duplicate key", put_cert(body='{"directory": "a", "directory": "b"}'), 400, "directory", "twice"),
    Case("NaN", put_cert(body='{"renew_fraction": NaN}'), 400, "body", "NaN is not JSON"),
    Case("nested too deep", put_cert(body="[" * 50000), 400, "body", "nested too deeply"),
    Case("empty body", put_cert(body=""), 400, "body", "a JSON object is required"),
    Case("text/plain", put_cert(content_type="text/plain"), 415, "Content-Type", "application/json"),
    Case("no content type", put_cert(content_type=None), 415, "Content-Type", "is none"),
    Case("form encoded", put_cert(content_type="application/x-www-form-urlencoded"), 415, "Content-Type", "json"),
    Case("latin-1 charset", put_cert(content_type="application/json; charset=latin-1"), 415, "Content-Type", "json"),
    Case(
        "70 KiB body",
        put_cert(changes={"profile": "p" * (70 * 1024)}),
        413,
        "body",
        "a request may carry at most 65536",
    ),
    Case("10 MiB body", put_cert(body="x" * (10 * 1024 * 1024)), 413, "body", "larger than 65536"),
    Case(
        "not UTF-8",
        lambda c: event("api-put-certificate.json", name=c.fresh, base64_body=b'{"directory": "d\xe9mo"}'),
        400,
        "body",
        "not UTF-8",
    ),
    Case(
        "bad base64",
        lambda c: {**event("api-put-certificate.json", name=c.fresh), "isBase64Encoded": True, "body": "%%%"},
        400,
        "body",
        "not base64",
    ),
    # -- directory credentials
    Case("no directory_url", put_dir(directory_url=_DROP), 400, "directory_url", "is required"),
    Case("http url", put_dir(directory_url="http://acme.example.com/dir"), 400, "directory_url", "not an https"),
    Case("url with password", put_dir(directory_url="https://u:p@acme.example.com/"), 400, "directory_url", "pass"),
    Case("kid a number", put_dir(eab_kid=7), 400, "eab_kid", "must be a string"),
    Case("kid with a space", put_dir(eab_kid="kid 1"), 400, "eab_kid", "printable ASCII"),
    Case("hmac not base64url", put_dir(eab_hmac_key="not/base64+url!"), 400, "eab_hmac_key", "not base64url"),
    Case("hmac too short", put_dir(eab_hmac_key="c2hvcnQ"), 400, "eab_hmac_key", "at least 16"),
    Case("hmac a list", put_dir(eab_hmac_key=["x"]), 400, "eab_hmac_key", "must be a string"),
    Case("kid without hmac", put_dir(eab_hmac_key=_DROP), 400, "eab_hmac_key", "together"),
    Case("unknown mac", put_dir(eab_hmac_alg="HS1"), 400, "eab_hmac_alg", "not one of"),
    Case("contact not mailto", put_dir(contact=["https://example.com"]), 400, "contact", "mailto"),
    Case("contact a string", put_dir(contact="mailto:a@example.com"), 400, "contact", "list"),
    Case("account key given", put_dir(account_key="-----BEGIN"), 400, "account_key", "not a field"),
    Case("a key as a credential field", put_dir(**{PASTED_KEY: "x"}), 400, PASTED_FIELD, "not a field"),
    Case("url and newline", put_dir(directory_url="https://acme.example.com/dir\n"), 400, "directory_url", "URL"),
    Case("kid and newline", put_dir(eab_kid="kid-1\n"), 400, "eab_kid", "printable ASCII"),
    Case("hmac and newline", put_dir(eab_hmac_key="c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n"), 400, "eab_hmac_key", "base64"),
    Case("contact and newline", put_dir(contact=["mailto:ops@example.com\n"]), 400, "contact", "mailto"),
    # -- directory policy
    Case(
        "principal and newline",
        put_policy({"allowed_principals": ["arn:aws:iam::123456789012:role/team-a\n"]}),
        400,
        "allowed_principals",
        "not an IAM principal ARN pattern",
    ),
    Case(
        "allowed domain, invalid A-label",
        put_policy({"allowed_domains": ["xn--zz.example.com"]}),
        400,
        "allowed_domains",
        "A-label",
    ),
    Case("a key as a policy field", put_policy({PASTED_KEY: []}), 400, PASTED_FIELD, "not a field of this request"),
    # -- revocation
    Case("no reason", revoke_with({}), 400, "reason", "is required"),
    Case("reason in the wrong case", revoke_with({"reason": "KeyCompromise"}), 400, "reason", "not one of"),
    Case("a CA-only reason", revoke_with({"reason": "cACompromise"}), 400, "reason", "not one of"),
    Case("removeFromCRL", revoke_with({"reason": "removeFromCRL"}), 400, "reason", "not one of"),
    Case("reason a code", revoke_with({"reason": 1}), 400, "reason", "not one of"),
    Case("unknown field in revoke", revoke_with({"reason": "superseded", "serial": "1"}), 400, "serial", "fields"),
    Case("a key as a revoke field", revoke_with({"reason": "superseded", PASTED_KEY: 1}), 400, PASTED_FIELD, "fields"),
    Case("revoke without a body", revoke_with(None), 400, "body", "a JSON object is required"),
    Case(
        "renew with a field",
        lambda c: event("api-post-certificate-renew.json", name=c.certificate, body={"force": True}),
        400,
        "force",
        "not a field",
    ),
    # -- query strings
    Case("limit 0", get_certs(query={"limit": "0"}), 400, "limit", "from 1 to 100"),
    Case("limit not a number", get_certs(query={"limit": "ten"}), 400, "limit", "from 1 to 100"),
    Case("limit 1000", get_certs(query={"limit": "1000"}), 400, "limit", "from 1 to 100"),
    Case("after a path", get_certs(query={"after": "../x"}), 400, "after", "not a valid name"),
    Case("unknown parameter", get_certs(query={"sort": "name"}), 400, "sort", "not a query parameter"),
    Case("a key as a parameter", get_certs(query={PASTED_KEY: "1"}), 400, PASTED_FIELD, "not a query parameter"),
    Case("limit in Arabic-Indic digits", get_certs(query={"limit": "\u0661\u0660"}), 400, "limit", "from 1 to 100"),
    Case("limit and newline", get_certs(query={"limit": "10\n"}), 400, "limit", "from 1 to 100"),
    Case("after and newline", get_certs(query={"after": "web\n"}), 400, "after", "not a valid name"),
    Case("limit twice", get_certs(raw_query={"limit": ["1", "2"]}), 400, "limit", "more than once"),
    Case("a body on GET", get_certs(body={"limit": 1}), 400, "body", "GET takes no body"),
    Case("revoke=maybe", delete_cert({"revoke": "maybe"}), 400, "revoke", "true or false"),
    Case("revoke without reason", delete_cert({"revoke": "true"}), 400, "reason", "is required"),
    Case("reason without revoke", delete_cert({"reason": "superseded"}), 400, "reason", "only with revoke=true"),
    Case("delete with a bad reason", delete_cert({"revoke": "true", "reason": "oops"}), 400, "reason", "not one of"),
    Case(
        "idempotency key with non-ASCII",
        lambda c: event("api-post-certificate-renew.json", name=c.certificate, headers={"Idempotency-Key": "ключ"}),
        400,
        "Idempotency-Key",
        "printable ASCII",
    ),
]


def test_the_corpus_is_large_and_covers_every_kind():
    assert len(CASES) >= 40
    assert len({c.label for c in CASES}) == len(CASES)
    assert {c.status for c in CASES} >= {400, 404, 413, 415}


@pytest.fixture(scope="module")
def ctx(stack: Any) -> Ctx:
    unique = uuid.uuid4().hex[:8]
    directory, certificate = f"corpus-{unique}", f"corpus-cert-{unique}"
    body = json.loads(sample("api-put-directory.json")["body"])
    body.update(directory_url=stack.directory_url, eab_hmac_key=stack.hmac(body["eab_kid"]))
    assert call(stack, event("api-put-directory.json", name=directory, body=body)).status == 201
    spec = {"domains": [f"{certificate}.example.com"], "directory": directory}
    assert call(stack, event("api-put-certificate.json", name=certificate, body=spec)).status == 201
    return Ctx(directory, certificate, f"fresh-{unique}")


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_bad_request_is_refused_by_name_and_changes_nothing(stack, state, ctx, case):
    before = state()
    reply = call(stack, case.request(ctx))
    assert reply.status == case.status, reply.body
    assert case.text in reply.body["message"], reply.body
    if case.field is not None:
        assert reply.body["field"] == case.field, reply.body
        assert reply.body["message"].startswith(f"{case.field}: "), reply.body
    assert set(reply.body) <= {"error", "message", "field"}
    assert state() == before
