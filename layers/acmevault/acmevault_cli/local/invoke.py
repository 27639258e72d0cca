"""Run a function from template.yaml with an event, as `sam local invoke` would, without Docker.

The handler module is loaded from the function's CodeUri the way the Lambda runtime
loads it; its environment is the template's (Globals + function), with references
(!Ref, !GetAtt, ...) resolved from the local stack's variables of the same name.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from acmevault.domain.errors import ConfigurationError


def load_template(text: str) -> Any:
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) kept as {'Fn::Tag': value}."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {"Fn::" + suffix: value}

    Loader.add_multi_constructor("!", construct)
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


@dataclass
class FakeContext:
    """The parts of the Lambda context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_seconds: int = 300
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


@dataclass(frozen=True)
class FunctionDefinition:
    """A function of template.yaml: where its code is, its handler, environment and limits."""

    logical_id: str
    code_dir: Path
    handler: str
    environment: dict[str, Any]
    timeout: int
    memory: int


def _number(value: Any, default: int) -> int:
    # ASCII digits only: str.isdigit() also takes other scripts' digits.
    return int(value) if isinstance(value, (int, str)) and re.fullmatch(r"[0-9]+", str(value), re.ASCII) else default


def functions(template_path: Path) -> dict[str, FunctionDefinition]:
    """Every AWS::Serverless::Function of the template, by logical id, with the Globals applied."""
    try:
        template = load_template(template_path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"{template_path} does not exist (run from the repository root, or give -t)") from None
    defaults = template.get("Globals", {}).get("Function", {})
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        own = resource.get("Properties", {})
        props = {**defaults, **own}
        found[logical_id] = FunctionDefinition(
            logical_id=logical_id,
            code_dir=template_path.parent / str(props["CodeUri"]),
            handler=str(props["Handler"]),
            environment={
                **defaults.get("Environment", {}).get("Variables", {}),
                **own.get("Environment", {}).get("Variables", {}),
            },
            timeout=_number(props.get("Timeout"), 3),
            memory=_number(props.get("MemorySize"), 128),
        )
    return found


def find_function(template_path: Path, name: str) -> FunctionDefinition:
    """By logical id (IssueFunction) or by folder name (issue)."""
    defined = functions(template_path)
    for definition in defined.values():
        if name in (definition.logical_id, definition.code_dir.name):
            return definition
    names = ", ".join(sorted(defined))
    raise ConfigurationError(f"no function {name!r} in {template_path} (functions: {names})")


def resolved_environment(definition: FunctionDefinition, stack_env: dict[str, str]) -> dict[str, str]:
    """The template's literal values, then the local stack's (which stand in for !Ref and !GetAtt)."""
    literal = {k: str(v) for k, v in definition.environment.items() if isinstance(v, (str, int, float, bool))}
    return {**literal, **stack_env}


def load(definition: FunctionDefinition, stack_env: dict[str, str]) -> ModuleType:
    """The function's handler module, loaded afresh as a cold start loads it, with its environment set."""
    os.environ.update(resolved_environment(definition, stack_env))
    module_name = definition.handler.rsplit(".", 1)[0]
    path = definition.code_dir / (module_name.replace(".", "/") + ".py")
    if not path.exists():
        raise ConfigurationError(f"handler file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"acmevault_local_{definition.logical_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(definition: FunctionDefinition, module: ModuleType, event: Any) -> Any:
    """Call the handler of a loaded module with ``event`` and a context with the function's limits."""
    context = FakeContext(definition.logical_id, definition.memory, definition.timeout)
    return getattr(module, definition.handler.rsplit(".", 1)[1])(event, context)


def invoke(definition: FunctionDefinition, event: Any, stack_env: dict[str, str]) -> Any:
    """Run the function with ``event``, as `sam local invoke` would: loaded afresh, then called."""
    return run(definition, load(definition, stack_env), event)


def load_event(path: Path) -> Any:
    """An event from a JSON file (events/*.json)."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"event file {path} does not exist") from None
    except ValueError as error:
        raise ConfigurationError(f"event file {path} is not JSON: {error}") from None
