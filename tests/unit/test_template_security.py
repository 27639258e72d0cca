"""Least privilege, read off template.yaml: no wildcard action anywhere, and "*" resources only where
AWS offers nothing narrower — each with the reason, so a new one has to argue its case here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acmevault.local_invoke import load_template

ROOT = Path(__file__).resolve().parents[2]

STAR_RESOURCE_ALLOWED = {
    # A certificate that is imported for the first time has no ARN yet; the statement requires our tag.
    frozenset({"acm:ImportCertificate", "acm:AddTagsToCertificate"}): "new ACM imports have no ARN yet",
    # These list operations have no resource-level permissions in IAM.
    frozenset({"route53:ListHostedZones"}): "ListHostedZones supports no resource ARN",
    frozenset({"secretsmanager:ListSecrets"}): "ListSecrets supports no resource ARN",
}


def statements() -> list[tuple[str, dict[str, Any]]]:
    template = load_template((ROOT / "template.yaml").read_text())
    found = []
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = []
        for policy in props.get("Policies") or []:
            if isinstance(policy, dict) and "Statement" in policy:
                documents.append(policy)
            elif isinstance(policy, dict) and "PolicyDocument" in policy:
                documents.append(policy["PolicyDocument"])
        if "PolicyDocument" in props and resource["Type"].startswith("AWS::IAM::"):
            documents.append(props["PolicyDocument"])
        for document in documents:
            for statement in document["Statement"]:
                # a conditional statement (!If [cond, statement, !Ref AWS::NoValue]): check the statement
                if "Fn::If" in statement:
                    statement = statement["Fn::If"][1]
                found.append((logical_id, statement))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_function_has_its_own_inline_policy_and_no_managed_wildcards():
    template = load_template((ROOT / "template.yaml").read_text())
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        policies = resource["Properties"].get("Policies")
        assert policies, f"{logical_id} has no policy of its own"
        for policy in as_list(policies):
            assert not isinstance(policy, str), f"{logical_id} uses the managed policy {policy}"


def test_no_statement_allows_every_action():
    assert statements(), "no IAM statements found: the test is not reading the template"
    for logical_id, statement in statements():
        for action in as_list(statement["Action"]):
            assert action != "*" and not str(action).endswith(":*"), f"{logical_id}/{statement.get('Sid')}: {action}"


def test_star_resources_only_where_aws_allows_nothing_narrower():
    for logical_id, statement in statements():
        if statement.get("Effect") != "Allow" or "*" not in as_list(statement.get("Resource")):
            continue
        actions = frozenset(as_list(statement["Action"]))
        assert actions in STAR_RESOURCE_ALLOWED, f"{logical_id}/{statement.get('Sid')}: {sorted(actions)} on '*'"


def test_new_acm_imports_must_carry_our_tag():
    star_imports = [
        s
        for _, s in statements()
        if "acm:ImportCertificate" in as_list(s["Action"]) and "*" in as_list(s.get("Resource"))
    ]
    assert star_imports
    for statement in star_imports:
        assert "aws:RequestTag/acmevault:certificate" in str(statement.get("Condition"))


def test_every_api_route_requires_iam():
    template = load_template((ROOT / "template.yaml").read_text())
    apis = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api"]
    assert apis
    for api in apis:
        assert api["Properties"]["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
    for logical_id, resource in template["Resources"].items():
        for name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            if event["Type"] == "Api":
                auth = event["Properties"].get("Auth", {})
                assert auth.get("Authorizer", "AWS_IAM") != "NONE", f"{logical_id}/{name} is public"
