"""template.yaml's Outputs and `acmevault --stack`: every output the CLI reads is on the template, with
the value the functions get in their environment, and sets a variable the settings know."""

from __future__ import annotations

from pathlib import Path

from acmevault.composition.config import Settings
from acmevault_cli.local.invoke import load_template
from acmevault_cli.stack import STACK_OUTPUTS

ROOT = Path(__file__).resolve().parents[2]


def test_every_output_the_cli_reads_is_on_the_template_with_the_functions_value():
    template = load_template((ROOT / "template.yaml").read_text())
    outputs = template["Outputs"]
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    for output in STACK_OUTPUTS:
        assert output.key in outputs, f"template.yaml has no output {output.key}"
        if output.variable in environment:
            assert outputs[output.key]["Value"] == environment[output.variable], output.key


def test_every_output_sets_a_variable_the_settings_read():
    base = {"AWS_REGION": "us-east-1", "ACMEVAULT_TABLE": "t", "ACMEVAULT_BUCKET": "b"}
    plain = repr(Settings.from_env(base))
    for output in STACK_OUTPUTS:
        value = "eu-west-3" if output.variable == "ACMEVAULT_ACM_REGIONS" else "from-the-stack"
        read = repr(Settings.from_env({**base, output.variable: value}))
        assert read != plain and value in read, output.variable
