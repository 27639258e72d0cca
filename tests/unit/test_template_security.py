"""Least privilege, read off template.yaml: no wildcard action anywhere, and "*" resources only where
AWS offers nothing narrower — each with the reason, so a new one has to argue its case here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from acmevault_cli.local.invoke import load_template

ROOT = Path(__file__).resolve().parents[2]

STACK = {"Fn::Ref": "AWS::StackName"}

STAR_RESOURCE_ALLOWED = {
    # A certificate that is imported for the first time has no ARN yet; the statement requires our tag.
    frozenset({"acm:ImportCertificate", "acm:AddTagsToCertificate"}): "new ACM imports have no ARN yet",
    # These list operations have no resource-level permissions in IAM.
    frozenset({"route53:ListHostedZones"}): "ListHostedZones supports no resource ARN",
    frozenset({"secretsmanager:ListSecrets"}): "ListSecrets supports no resource ARN",
}


def template() -> dict[str, Any]:
    return dict(load_template((ROOT / "template.yaml").read_text()))


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


# -- tenancy: admins, who may invoke the API, per-stack namespaces, least-privilege data paths ---------


def function_statements(logical_id: str) -> list[dict[str, Any]]:
    return [statement for owner, statement in statements() if owner == logical_id]


def bucket_policy() -> list[dict[str, Any]]:
    return list(template()["Resources"]["CertificateBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"])


def refs(value: Any) -> set[str]:
    """The parameters and resources a value refers to (Ref, GetAtt, and ${...} in Sub)."""
    if isinstance(value, dict):
        found: set[str] = set()
        for key, inner in value.items():
            if key == "Fn::Ref":
                found.add(str(inner))
            elif key == "Fn::GetAtt":
                found.add(str(inner).split(".")[0])
            elif key == "Fn::Sub" and isinstance(inner, str):
                found.update(part.split("}")[0].split(".")[0] for part in inner.split("${")[1:])
            found |= refs(inner)
        return found
    if isinstance(value, list):
        return {r for v in value for r in refs(v)}
    return set()


def test_admins_are_a_required_parameter_that_reaches_the_api_function():
    parameters = template()["Parameters"]
    assert "Default" not in parameters["AdminPrincipalArns"], "sam deploy --guided must ask for the admins"
    assert parameters["AdminPrincipalArns"]["Type"] == "CommaDelimitedList"
    variables = template()["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert refs(variables["ACMEVAULT_ADMIN_PRINCIPALS"]) == {"AdminPrincipalArns"}


def test_only_admins_and_api_callers_may_invoke_the_api():
    statements = template()["Resources"]["AcmeVaultApi"]["Properties"]["Auth"]["ResourcePolicy"]["CustomStatements"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert len(denies) == 1
    deny = denies[0]
    assert deny["Principal"] == "*" and deny["Action"] == "execute-api:Invoke" and deny["Resource"] == "execute-api:/*"
    # An explicit deny for every principal not listed: an IAM policy in the account cannot open it up.
    condition = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert {"AdminPrincipalArns", "ApiCallerArns"} <= refs(condition)
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows and all("AdminPrincipalArns" in refs(s["Condition"]) for s in allows)


def test_directory_secrets_are_named_and_reached_per_stack():
    variables = template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["ACMEVAULT_SECRET_PREFIX"] == {"Fn::Sub": "acmevault/${AWS::StackName}/directories/"}
    secret_statements = [
        (owner, s)
        for owner, s in statements()
        if any(str(a).startswith("secretsmanager:") for a in as_list(s["Action"]))
        and s.get("Sid") not in ("ListDirectories", "CertCentralApiKey")
    ]
    assert len(secret_statements) >= 3
    for owner, statement in secret_statements:
        resource = statement["Resource"]["Fn::Sub"]
        assert resource.endswith(":secret:acmevault/${AWS::StackName}/directories/*"), (owner, resource)


def test_the_issue_worker_reads_credentials_and_never_writes_them():
    actions = {a for s in function_statements("IssueFunction") for a in as_list(s["Action"])}
    assert {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"} <= actions
    assert not {
        a
        for a in actions
        if a.startswith("secretsmanager:") and not a.startswith(("secretsmanager:Get", "secretsmanager:Describe"))
    }


def test_every_acm_statement_is_bound_to_this_stacks_ownership_tag():
    acm = [(o, s) for o, s in statements() if any(str(a).startswith("acm:") for a in as_list(s["Action"]))]
    assert len(acm) >= 4
    for owner, statement in acm:
        conditions = statement.get("Condition", {})
        bound = [
            conditions.get(operator, {}).get(key)
            for operator in ("StringEquals", "StringEqualsIfExists")
            for key in ("aws:ResourceTag/acmevault:stack", "aws:RequestTag/acmevault:stack")
        ]
        assert STACK in bound, f"{owner}/{statement.get('Sid')} does not name this stack's tag"


def test_acm_tags_may_be_added_only_with_this_stacks_values():
    adders = [s for _, s in statements() if "acm:AddTagsToCertificate" in as_list(s["Action"])]
    assert adders
    for statement in adders:
        keys = set(statement["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"])
        assert keys <= {"acmevault:certificate", "acmevault:stack", "acmevault:revoked"}, statement["Sid"]
        equals = statement["Condition"].get("StringEquals", {})
        if "acmevault:stack" in keys:  # adds the ownership tag: only this stack's value, never over another's
            assert equals.get("aws:RequestTag/acmevault:stack") == STACK, statement["Sid"]
            assert statement["Condition"]["StringEqualsIfExists"]["aws:ResourceTag/acmevault:stack"] == STACK
        else:  # adds another tag: only on this stack's certificates
            assert equals.get("aws:ResourceTag/acmevault:stack") == STACK, statement["Sid"]


def s3_grants(logical_id: str) -> dict[str, set[str]]:
    """Object actions of a function → the object ARNs (as written after the bucket's ARN)."""
    grants: dict[str, set[str]] = {}
    for statement in function_statements(logical_id):
        for action in as_list(statement["Action"]):
            if action.startswith("s3:") and action != "s3:ListBucketVersions":
                for resource in as_list(statement["Resource"]):
                    grants.setdefault(action, set()).add(resource["Fn::Sub"].removeprefix("${CertificateBucket.Arn}"))
    return grants


def test_the_api_function_reads_certificates_and_metadata_and_writes_metadata_only():
    assert s3_grants("ApiFunction") == {
        "s3:GetObject": {"/certificates/*/cert.pem", "/certificates/*/metadata.json"},
        "s3:PutObject": {"/certificates/*/metadata.json"},
    }


def test_the_rotate_function_reads_private_key_versions_and_certificates_only():
    assert s3_grants("RotateFunction") == {
        "s3:GetObjectVersion": {"/certificates/*/privkey.pem", "/certificates/*/cert.pem"},
        "s3:GetObject": {"/certificates/*/cert.pem"},
    }


def test_the_bucket_denies_private_key_reads_to_all_but_the_issue_and_rotate_roles():
    denies = [
        s
        for s in bucket_policy()
        if s["Effect"] == "Deny" and "s3:GetObject" in as_list(s["Action"]) and s["Principal"] == "*"
    ]
    assert len(denies) == 1
    deny = denies[0]
    assert set(as_list(deny["Action"])) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert deny["Resource"] == {"Fn::Sub": "${CertificateBucket.Arn}/*/privkey.pem"}
    excepted = deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert refs(excepted) == {"IssueFunctionRole", "RotateFunctionRole", "PrivateKeyReaderArns"}


def test_the_bucket_takes_objects_encrypted_with_this_stacks_key_only():
    keyed = [
        s
        for s in bucket_policy()
        if s["Effect"] == "Deny" and "s3:x-amz-server-side-encryption-aws-kms-key-id" in str(s.get("Condition"))
    ]
    assert len(keyed) == 1
    assert keyed[0]["Action"] == "s3:PutObject" and keyed[0]["Principal"] == "*"
    key = keyed[0]["Condition"]["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"]
    assert key == {"Fn::GetAtt": "AcmeVaultKey.Arn"}


def test_cloudwatch_may_use_the_key_only_for_this_accounts_alarms():
    key_policy = template()["Resources"]["AcmeVaultKey"]["Properties"]["KeyPolicy"]["Statement"]
    services = [s for s in key_policy if isinstance(s, dict) and "Service" in s.get("Principal", {})]
    cloudwatch = [s for s in services if s["Principal"]["Service"] == "cloudwatch.amazonaws.com"]
    assert len(cloudwatch) == 1
    condition = cloudwatch[0]["Condition"]
    assert condition["StringEquals"]["aws:SourceAccount"] == {"Fn::Ref": "AWS::AccountId"}
    assert ":cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:" in condition["ArnLike"]["aws:SourceArn"]["Fn::Sub"]


def test_hosted_zones_are_named_at_deploy_time():
    assert "Default" not in template()["Parameters"]["HostedZoneIds"], "no zone may be writable by default"
