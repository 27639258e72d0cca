"""CloudFormation: a deployed stack's name, status and outputs (DescribeStacks), for ``acmevault --stack``."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from acmevault.adapters.aws.clients import client, error_code, translated


@dataclass(frozen=True)
class DeployedStack:
    """A stack as DescribeStacks reports it: its own name, its status, and its outputs (key → value)."""

    name: str
    status: str
    outputs: dict[str, str]


def describe_stack(stack: str, region: str) -> DeployedStack | None:
    """The stack named (or with the id) ``stack`` in ``region``; None when there is no such stack.
    AwsError when CloudFormation refuses the call, AwsUnavailable when it cannot be reached or is failing."""
    with translated(f"reading the outputs of stack {stack!r} in {region}"):
        try:
            described = client("cloudformation", region).describe_stacks(StackName=stack)
        except ClientError as error:
            # CloudFormation's answer for a stack that is not there: ValidationError "... does not exist".
            if error_code(error) != "ValidationError":
                raise
            return None
    found = described["Stacks"][0]
    return DeployedStack(
        name=found.get("StackName") or stack,
        status=found.get("StackStatus", ""),
        outputs={o["OutputKey"]: o.get("OutputValue", "") for o in found.get("Outputs", []) if "OutputKey" in o},
    )
