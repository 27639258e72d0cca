"""`acmevault --stack NAME`: the settings come from the stack's CloudFormation outputs, as after
`sam deploy`; the local stack registers itself in moto's CloudFormation as `acmevault-local`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from acmevault_cli.stack import outputs_template


def run(stack, *argv: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """The acmevault command in a shell that knows AWS (endpoint, credentials, region) and nothing else:
    none of the ACMEVAULT_* variables `local up` exports."""
    shell = {k: v for k, v in os.environ.items() if not k.startswith("ACMEVAULT_")}
    shell.update({k: v for k, v in stack.env.items() if not k.startswith("ACMEVAULT_")}, **env)
    return subprocess.run(
        [sys.executable, "-m", "acmevault_cli.cli", *argv],
        input=stdin,
        env=shell,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_local_up_registers_the_stack_with_template_yamls_outputs(stack):
    described = stack.aws("cloudformation").describe_stacks(StackName="acmevault-local")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert outputs["CertificateTableName"] == stack.env["ACMEVAULT_TABLE"]
    assert outputs["CertificateBucketName"] == stack.env["ACMEVAULT_BUCKET"]
    assert outputs["KeyArn"] == stack.env["ACMEVAULT_KMS_KEY_ID"]
    assert outputs["IssueQueueUrl"] == stack.env["ACMEVAULT_QUEUE_URL"]
    assert outputs["AlertTopicArn"] == stack.env["ACMEVAULT_ALERT_TOPIC_ARN"]


def test_stack_names_the_table_bucket_key_queue_and_topic(stack, unique):
    directory, name = f"sd-{unique}", f"sc-{unique}"
    hmac = stack.hmac()
    put = run(
        stack,
        "--stack",
        "acmevault-local",
        "directory",
        "put",
        directory,
        "--url",
        stack.directory_url,
        "--eab-kid",
        "kid-1",
        stdin=hmac,
    )
    assert put.returncode == 0, put.stderr
    assert hmac not in put.stdout + put.stderr
    defined = run(
        stack, "--stack", "acmevault-local", "cert", "put", name, "-d", f"{name}.example.com", "--directory", directory
    )
    assert defined.returncode == 0, defined.stderr
    issued = run(stack, "cert", "issue", name, ACMEVAULT_STACK="acmevault-local")
    assert issued.returncode == 0, issued.stderr
    listed = run(stack, "cert", "list", "--json", ACMEVAULT_STACK="acmevault-local")
    [cert] = [c for c in json.loads(listed.stdout) if c["name"] == name]
    assert cert["status"] == "issued"
    # the ACM copy carries the stack's ownership tag, named by --stack alone
    arn = next(iter(cert["acm_arns"].values()))
    tags = stack.aws("acm").list_tags_for_certificate(CertificateArn=arn)["Tags"]
    assert {"Key": "acmevault:stack", "Value": "acmevault-local"} in tags
    # --stack after the verb, as aws takes --region
    shown = run(stack, "cert", "show", name, "--json", "--stack", "acmevault-local", "--region", "us-east-1")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["serial"] == cert["serial"]
    # The same certificate, through the exported variables: the stack is the same stack.
    from acmevault.composition.services import services

    assert services().certificates.get(name).state.serial == cert["serial"]
    # Without --stack (nor ACMEVAULT_STACK, nor the variables) nothing says where the table is.
    unnamed = run(stack, "cert", "list")
    assert unnamed.returncode == 1
    [line] = unnamed.stderr.splitlines()
    assert "ACMEVAULT_TABLE is not set: name the deployed stack with --stack NAME" in line


def test_a_stack_without_a_needed_output_is_named(stack, unique):
    partial = {"CertificateTableName": "t", "CertificateBucketName": "b", "KeyArn": "k", "AlertTopicArn": "a"}
    name = f"old-{unique}"
    stack.aws("cloudformation").create_stack(StackName=name, TemplateBody=outputs_template(partial))
    result = run(stack, "--stack", name, "cert", "list")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"acmevault: cert list: stack '{name}' has no output IssueQueueUrl (the issue queue), SecretPrefix (where "
        "directory secrets are kept); update it with 'sam build && sam deploy' from this version of template.yaml"
    ]


def test_a_stack_never_deployed_says_so(stack, unique):
    # what `sam deploy --guided` leaves when its first change set is not executed
    name = f"review-{unique}"
    template = outputs_template({"CertificateTableName": "t"})
    stack.aws("cloudformation").create_change_set(
        StackName=name, ChangeSetName="first", ChangeSetType="CREATE", TemplateBody=template
    )
    result = run(stack, "--stack", name, "cert", "list")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"acmevault: cert list: stack '{name}' is REVIEW_IN_PROGRESS: it has no outputs until a deployment "
        "completes ('sam deploy')"
    ]


def test_the_stack_is_looked_up_in_the_region_given(stack):
    result = run(stack, "--stack", "acmevault-local", "--region", "eu-west-1", "cert", "list")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert "stack 'acmevault-local' does not exist in eu-west-1" in line
