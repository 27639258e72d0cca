"""`acmevault --stack NAME`: a deployed stack's settings, read from its CloudFormation outputs.

Each output of template.yaml that the command line needs becomes the environment variable the
functions are given, so the CLI and the functions read the same settings (config.Settings).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from acmevault.adapters.aws.cloudformation import describe_stack
from acmevault.domain.errors import ConfigurationError

LOCAL_STACK_NAME = "acmevault-local"


@dataclass(frozen=True)
class StackOutput:
    """An output of template.yaml and the variable it sets; ``required`` ones must be on the stack."""

    key: str
    variable: str
    meaning: str
    required: bool = True


STACK_OUTPUTS = (
    StackOutput("CertificateTableName", "ACMEVAULT_TABLE", "the certificate table"),
    StackOutput("CertificateBucketName", "ACMEVAULT_BUCKET", "the certificate bucket"),
    StackOutput("KeyArn", "ACMEVAULT_KMS_KEY_ID", "the stack's KMS key"),
    StackOutput("IssueQueueUrl", "ACMEVAULT_QUEUE_URL", "the issue queue"),
    StackOutput("AlertTopicArn", "ACMEVAULT_ALERT_TOPIC_ARN", "the alert topic"),
    StackOutput("SecretPrefix", "ACMEVAULT_SECRET_PREFIX", "where directory secrets are kept"),
    StackOutput("DefaultAcmRegions", "ACMEVAULT_ACM_REGIONS", "the default ACM regions", required=False),
    StackOutput("EventBus", "ACMEVAULT_EVENT_BUS", "the event bus", required=False),
    StackOutput("RotateFunctionArn", "ACMEVAULT_ROTATION_LAMBDA_ARN", "the rotation function", required=False),
    StackOutput("CertCentralSecret", "ACMEVAULT_CERTCENTRAL_SECRET", "the CertCentral secret", required=False),
)


def environment(stack: str, region: str) -> dict[str, str]:
    """The variables that point acmevault at ``stack``; names every required output it lacks."""
    described = describe_stack(stack, region)
    if described is None:
        raise ConfigurationError(
            f"stack {stack!r} does not exist in {region}; deploy it with 'sam deploy --guided', "
            "or name its region with --region"
        )
    outputs = described.outputs
    missing = [o for o in STACK_OUTPUTS if o.required and not outputs.get(o.key)]
    if missing:
        names = ", ".join(f"{o.key} ({o.meaning})" for o in missing)
        status = described.status
        # Never deployed (a change set not executed, a first deployment failed or under way): no outputs at all.
        if status != "CREATE_COMPLETE" and status.startswith(("CREATE_", "ROLLBACK_", "REVIEW_", "DELETE_")):
            raise ConfigurationError(
                f"stack {stack!r} is {status}: it has no outputs until a deployment completes ('sam deploy')"
            )
        raise ConfigurationError(
            f"stack {stack!r} has no output {names}; update it with 'sam build && sam deploy' from this "
            "version of template.yaml"
        )
    found = {o.variable: outputs[o.key] for o in STACK_OUTPUTS if outputs.get(o.key)}
    # The stack's own name: ACM imports carry it in their ownership tag, which IAM's conditions check.
    named = {"ACMEVAULT_STACK_NAME": described.name}
    return {**found, **named, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def outputs_template(values: Mapping[str, str]) -> str:
    """A CloudFormation template holding only these outputs (the local stack registers itself with it).

    CloudFormation needs one resource: a wait condition handle, which creates nothing."""
    unknown = set(values) - {o.key for o in STACK_OUTPUTS}
    assert not unknown, f"not outputs of template.yaml: {sorted(unknown)}"
    return json.dumps(
        {
            "Description": "acmevault local stack: its outputs, as template.yaml's, for acmevault --stack",
            "Resources": {"Registered": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in values.items()},
        }
    )
