#!/usr/bin/env python3
"""Cold start, memory and request counts of the Lambda handlers (issue 7): measured, not asserted.

    python bench/coldstart.py [--runs 15]

Every child process runs in .venv-runtime: a venv with only what the functions need at run time
(`pip install boto3 -r layers/acmevault/requirements.txt`, no dev tools), on Python 3.13 (Lambda's
runtime) when pyenv has it, with layers/acmevault on PYTHONPATH as /opt/python is in Lambda, and the
template's environment plus the variables Lambda itself sets.

1. Init: for each function in template.yaml, a fresh process loads functions/<name>/app.py with
   importlib, as the Lambda runtime does, timed inside the child by time.perf_counter (and
   time.process_time, which other load on the machine hardly changes), interpreter startup
   excluded; median and p90 over --runs, every case interleaved. Three ways:
     .pyc present    the bytecode cache is warm (a first, untimed run writes it);
     as deployed     the layer as `sam build` lays it out (wheels unpacked, no .pyc), which `sam
                     deploy` zips without timestamps (so a timestamp .pyc could not validate
                     anyway): every module of the layer and of the function is compiled at each
                     cold start. boto3 comes from the Lambda runtime there, and keeps its .pyc here;
     checked-hash    that layer with PEP 552 checked-hash .pyc and every file dated 1980-01-01, as
                     the zip dates them: what compiling the bytecode in the build would give.
2. Peak RSS: a fresh process loads IssueFunction's handler and gives it an SQS event for one
   certificate on the local stack (Pebble with EAB, and moto); its peak RSS after that issuance, for
   ec-p256 and rsa-4096. Read from VmHWM in /proc/self/status: getrusage's ru_maxrss is kept by
   Linux across fork and exec, so in a child it starts at its parent's RSS (kept in the JSON too).
3. Requests: in the same process, a second certificate of the same key type (a warm container).
   Every HTTP request to Pebble is counted by type (requests.Session.send wrapped), and every AWS API
   call, Secrets Manager GetSecretValue included, per issuance: a hook in the HOOKS of acmevault's own
   AWS client (acmevault.adapters.aws.wire.transport), which sees every send with its attempt number;
   the first send of a call counts as the call, later ones as its retries. Both counters go in as their
   modules are first loaded, so they import nothing the handler would not have.
4. Imports: whether a handler's init or an issuance imports botocore's client machinery
   (botocore.session, botocore.client), which acmevault's AWS client replaced: it should never; and which
   issuance first imports requests and acme.client (left to the first ACME session).

Output: Markdown tables on stdout, progress on stderr, every figure in bench/results/coldstart.json.
The local stack runs on free ports in a temporary directory and is stopped at the end, also on an
error or Ctrl-C. Pebble's random nonce rejection is off (PEBBLE_WFE_NONCEREJECT=0), so a badNonce
retry does not blur the counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PROJECT_VENV = ROOT / ".venv"
RUNTIME_VENV = ROOT / ".venv-runtime"
LAYER = ROOT / "layers" / "acmevault"
REQUIREMENTS = LAYER / "requirements.txt"
TEMPLATE = ROOT / "template.yaml"
SQS_EVENT = ROOT / "events" / "issue-sqs.json"
RESULTS = Path(__file__).resolve().parent / "results" / "coldstart.json"

LAMBDA_PYTHON = "3.13.0"  # pyenv's version of Lambda's python3.13 runtime
INIT_TARGET_MS = 150.0  # CPU time of import + module-level setup (issue 14)
FIRST_ISSUANCE_TARGET_MS = 250.0  # wall time of a cold container's first issuance, beyond init
RSS_TARGET_MB = 150.0
KEY_TYPES = ("ec-p256", "rsa-4096")
ZIP_EPOCH = 315532800  # 1980-01-01: the date `sam deploy` gives every file in the zip
DIRECTORY = "coldstart"
ZONE = "example.com"
PEBBLE_ENV = {"PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
# Distributions that must not be in the runtime venv: the dev and local-stack tools.
DEV_TOOLS = {"acmevault", "moto", "pytest", "mypy", "ruff", "pyyaml", "cfn-lint", "aws-sam-cli"}
# What the functions see besides the template's variables: Lambda's own, and stand-ins for the
# stack's references (!Ref, !GetAtt). Init reads none of them; the issuance uses the local stack's.
PLACEHOLDER_STACK_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "ACMEVAULT_TABLE": "acmevault-certificates",
    "ACMEVAULT_BUCKET": "acmevault-certificates-123456789012",
    "ACMEVAULT_KMS_KEY_ID": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000",
    "ACMEVAULT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/acmevault-issue",
    "ACMEVAULT_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:acmevault-alerts",
    "ACMEVAULT_ACM_REGIONS": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
TEMPLATE_REFERENCES = {"POWERTOOLS_LOG_LEVEL": "INFO"}  # !Ref LogLevel's default
# botocore's client machinery (sessions, service models, clients): acmevault's own AWS client replaced it,
# so neither a handler's init nor an issuance may import these (botocore.exceptions, a small module, is
# imported by that client; botocore's credential chain only where the environment has no credentials).
BOTOCORE_CLIENT_MODULES = ("botocore.session", "botocore.client")
# What a handler leaves to the first call that needs it: the ACME session's libraries.
DEFERRED_MODULES = ("requests", "acme.client")
MARKERS = (*BOTOCORE_CLIENT_MODULES, *DEFERRED_MODULES)

# The child of an init measurement: nothing but the load of the handler module is timed.
INIT_CHILD = """
import importlib.util, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
spec = importlib.util.spec_from_file_location("lambda_handler_module", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
assert callable(getattr(module, sys.argv[2]))
imported = ",".join(m for m in sys.argv[3].split(",") if m in sys.modules) or "-"
print("COLDSTART", repr(elapsed), repr(cpu), imported, flush=True)
"""

# The child of an issuance measurement: one container. The handler module is loaded once, the way
# acmevault_cli.local.invoke.invoke loads it, and called once per event (invoke itself would load the
# module again on every call, which a warm container does not).
ISSUE_CHILD = """
import json, resource, sys, time
from pathlib import Path

config = json.loads(Path(sys.argv[1]).read_text())
result = {"rss_mb": {}, "issuances": []}

def max_rss():
    # VmHWM: the peak RSS of this process's own memory. ru_maxrss would not do: Linux carries it
    # over fork and exec, so it starts at the RSS of the process that spawned this one.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB

def ru_maxrss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

result["rss_mb"]["interpreter"] = max_rss()
import importlib.util
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("lambda_handler_module", config["handler_file"])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
result["import_seconds"] = time.perf_counter() - started
result["rss_mb"]["after_import"] = max_rss()

# Which of the libraries a handler may or may not load its init imported: measured before the counters
# below import anything of their own.
result["imported_at_init"] = sorted(m for m in config["markers"] if m in sys.modules)

# The counters go in without importing anything the handler has not: what its first call imports
# (requests, acme, acmevault's AWS client) is part of the cold issuance. requests.Session.send is wrapped
# when requests.sessions is first loaded; the counting hook joins the AWS client's transport.HOOKS when
# acmevault.adapters.aws.wire.transport is first loaded.
import importlib.abc, importlib.machinery
from acmevault_cli.local.invoke import FakeContext

current = {"issuance": 0}
http, aws, retries, secret_reads = [], [], [], []

def counting(send):
    def counting_send(self, request, **kwargs):
        response = send(self, request, **kwargs)
        http.append(
            {"issuance": current["issuance"], "method": request.method, "url": request.url,
             "status": response.status_code}
        )
        return response
    return counting_send

def count_aws(endpoint, request, attempt):
    # Every send of acmevault's AWS client passes here, once per attempt: the first is the API call,
    # any later one a retry. Returning None lets the request through to the network.
    call = {"issuance": current["issuance"], "call": f"{endpoint.service}.{request.operation}", "attempt": attempt}
    if attempt > 1:
        retries.append(call)
        return None
    aws.append(call)
    if (endpoint.service, request.operation) == ("secretsmanager", "GetSecretValue"):  # a JSON body
        secret_id = json.loads(request.body or b"{}").get("SecretId")
        secret_reads.append({"issuance": current["issuance"], "secret_id": secret_id})
    return None

def patch_requests(module):
    module.Session.send = counting(module.Session.send)

def patch_transport(module):
    module.HOOKS.insert(0, count_aws)  # first: it sees every send, whatever a later hook answers

PATCHES = {"requests.sessions": patch_requests, "acmevault.adapters.aws.wire.transport": patch_transport}

class PatchOnLoad(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in PATCHES or name in sys.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        load = spec.loader.exec_module
        def exec_module(module):
            load(module)
            PATCHES[name](module)
        spec.loader.exec_module = exec_module
        return spec

for name, patch in PATCHES.items():
    if name in sys.modules:  # imported by the handler module itself
        patch(sys.modules[name])
sys.meta_path.insert(0, PatchOnLoad())
result["imported_by_counters"] = sorted(
    m for m in config["markers"] if m in sys.modules and m not in result["imported_at_init"]
)
result["imported_by_issuance"] = []

handler = getattr(module, config["handler_function"])
for index, (name, event) in enumerate(zip(config["certificates"], config["events"]), 1):
    current["issuance"] = index
    context = FakeContext(config["function"], config["memory"], config["timeout"])
    started, cpu_started = time.perf_counter(), time.process_time()
    response = handler(event, context)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    result["rss_mb"][f"after_issuance_{index}"] = max_rss()
    result["rss_mb"][f"ru_maxrss_after_issuance_{index}"] = ru_maxrss()
    result["issuances"].append({"certificate": name, "seconds": elapsed, "cpu_seconds": cpu, "response": response})
    seen = set(result["imported_at_init"]).union(*result["imported_by_issuance"])
    result["imported_by_issuance"].append(sorted(m for m in config["markers"] if m in sys.modules and m not in seen))
result.update(http=http, aws=aws, retries=retries, secret_reads=secret_reads)
Path(config["result"]).write_text(json.dumps(result, default=str))
"""


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class BenchError(Exception):
    """A prerequisite is missing or a measurement failed; the message says which."""


# -- prerequisites ---------------------------------------------------------------------------------


def ensure_project_python() -> None:
    """This script runs in the project venv (acmevault, moto, PyYAML for the local stack and the template)."""
    try:
        import acmevault_cli.local.stack  # noqa: F401
        import yaml  # noqa: F401
    except ImportError:
        python = PROJECT_VENV / "bin" / "python"
        if Path(sys.prefix).resolve() != PROJECT_VENV.resolve() and python.exists():
            os.execv(python, [str(python), __file__, *sys.argv[1:]])  # noqa: S606 - our own script, our own venv
        raise BenchError(f"acmevault is not importable and {python} does not exist: run `make setup`") from None


def checked(argv: list[str], env: dict[str, str] | None = None, what: str = "") -> str:
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise BenchError(f"{what or ' '.join(argv[:4])} failed:\n{(result.stderr or result.stdout)[-1500:]}")
    return result.stdout


def base_interpreter() -> tuple[str, str]:
    """Python 3.13 from pyenv if it has it, else this interpreter's version; and a note saying which.

    Asked of pyenv itself: under a pyenv shim, PATH already leads to the shim's own version."""
    pyenv = shutil.which("pyenv")
    if pyenv is not None:
        probe = subprocess.run([pyenv, "prefix", LAMBDA_PYTHON], capture_output=True, text=True, check=False)
        python = Path(probe.stdout.strip()) / "bin" / "python3"
        if probe.returncode == 0 and python.exists():
            return str(python), f"Python {LAMBDA_PYTHON} (pyenv), the Lambda runtime's version"
    version = platform.python_version()
    return sys.executable, f"Python {version}: pyenv has no {LAMBDA_PYTHON}, so not Lambda's 3.13"


def ensure_runtime_venv() -> tuple[Path, str]:
    """.venv-runtime with boto3 and the layer's requirements only, made again when they change."""
    python = RUNTIME_VENV / "bin" / "python"
    stamp = RUNTIME_VENV / ".coldstart-stamp"
    interpreter, note = base_interpreter()
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes() + note.encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python, note
    progress(f"creating {RUNTIME_VENV.name} ({note}) with boto3 and {REQUIREMENTS.relative_to(ROOT)} only ...")
    checked([interpreter, "-m", "venv", "--clear", str(RUNTIME_VENV)], what="creating the runtime venv")
    checked(
        [str(python), "-m", "pip", "install", "--quiet", "boto3", "-r", str(REQUIREMENTS)],
        what="installing the runtime dependencies",
    )
    stamp.write_text(wanted)
    return python, note


def runtime_packages(python: Path) -> dict[str, str]:
    listed = json.loads(checked([str(python), "-m", "pip", "list", "--format", "json"]))
    packages = {str(p["name"]).lower(): str(p["version"]) for p in listed}
    found = sorted(DEV_TOOLS & packages.keys())
    if found:
        raise BenchError(f"{RUNTIME_VENV.name} holds {', '.join(found)}: remove it and run again")
    return packages


# -- functions and their environment ---------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler_file: Path
    handler_function: str
    timeout: int
    memory: int
    environment: dict[str, str]  # the template's literals, as local_invoke.resolved_environment gives them


def template_functions(stack_env: dict[str, str]) -> list[Function]:
    from acmevault_cli.local.invoke import functions, resolved_environment

    found = []
    for definition in functions(TEMPLATE).values():
        module, function = definition.handler.rsplit(".", 1)
        found.append(
            Function(
                logical_id=definition.logical_id,
                handler_file=(definition.code_dir / (module.replace(".", "/") + ".py")).resolve(),
                handler_function=function,
                timeout=definition.timeout,
                memory=definition.memory,
                environment=resolved_environment(definition, stack_env),
            )
        )
    if not found:
        raise BenchError(f"{TEMPLATE} defines no AWS::Serverless::Function")
    return found


def lambda_env(function: Function, python_path: Path, home: Path) -> dict[str, str]:
    """A clean environment as Lambda gives a function: none of this process's variables leak in."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "HOME": str(home),  # no ~/.aws of this machine
        "PYTHONPATH": str(python_path),
        "LAMBDA_TASK_ROOT": str(function.handler_file.parent),
        "_HANDLER": f"{function.handler_file.stem}.{function.handler_function}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/acmevault/{function.logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "coldstart",
        **TEMPLATE_REFERENCES,
        **function.environment,
    }


# -- statistics ------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "p90": percentile(values, 0.9),
        "min": min(values),
        "max": max(values),
    }


# -- 1. init ---------------------------------------------------------------------------------------


Handlers = dict[str, Path]  # function logical id → its handler file


def sam_like_layer(python: Path, functions: list[Function], work: Path) -> tuple[Path, Handlers]:
    """The layer and function code as `sam build` (python_pip) lays them out: no .pyc anywhere."""
    root = work / "sam-build"
    layer = root / "layer" / "python"
    progress("laying out the layer as sam build does (pip install --target, no .pyc) ...")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-compile"]
    checked([*pip, "--target", str(layer), "-r", str(REQUIREMENTS)], what="pip install --target (as sam build)")
    no_bytecode = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(LAYER / "acmevault", layer / "acmevault", ignore=no_bytecode)
    handlers = {}
    for function in functions:
        code = root / function.logical_id
        shutil.copytree(function.handler_file.parent, code, ignore=no_bytecode)
        handlers[function.logical_id] = code / function.handler_file.name
    stale = next(root.rglob("*.pyc"), None)
    if stale is not None:
        raise BenchError(f"the sam-like layer has bytecode ({stale}): pip did not honour --no-compile")
    return layer, handlers


def with_hash_bytecode(
    python: Path, layer: Path, handlers: dict[str, Path], work: Path
) -> tuple[Path, dict[str, Path]]:
    """A copy of the sam-like build with checked-hash .pyc (PEP 552) next to every module, and every
    file dated 1980-01-01 as `sam deploy` zips them: the bytecode stays valid whatever the dates."""
    source_root = layer.parent.parent
    root = work / "sam-build-hash-pyc"
    shutil.copytree(source_root, root)
    checked(
        [str(python), "-m", "compileall", "-q", "--invalidation-mode", "checked-hash", str(root)],
        what="compileall --invalidation-mode checked-hash",
    )
    for path in root.rglob("*"):
        os.utime(path, (ZIP_EPOCH, ZIP_EPOCH))
    moved = {name: root / handler.relative_to(source_root) for name, handler in handlers.items()}
    return root / layer.relative_to(source_root), moved


def time_init(
    python: Path, env: dict[str, str], handler_file: Path, function_name: str
) -> tuple[float, float, float, list[str]]:
    """Seconds to load the handler module measured in the child, wall and CPU; the child's whole wall time;
    and which of MARKERS the load imported."""
    started = time.perf_counter()
    result = subprocess.run(
        [str(python), "-c", INIT_CHILD, str(handler_file), function_name, ",".join(MARKERS)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    wall = time.perf_counter() - started
    lines = [line for line in result.stdout.splitlines() if line.startswith("COLDSTART ")]
    if result.returncode != 0 or not lines:
        raise BenchError(f"loading {handler_file} failed:\n{(result.stderr or result.stdout)[-1500:]}")
    _, seconds, cpu, imported = lines[-1].split()
    return float(seconds), float(cpu), wall, [] if imported == "-" else imported.split(",")


INIT_MODES = {
    "pyc": ".pyc present",
    "as_deployed": "layer as `sam build` ships it, no .pyc",
    "hash_pyc": "that layer with checked-hash .pyc",
}


def measure_init(python: Path, functions: list[Function], runs: int, work: Path) -> dict[str, Any]:
    layer, sam_handlers = sam_like_layer(python, functions, work)
    hashed_layer, hashed_handlers = with_hash_bytecode(python, layer, sam_handlers, work)
    no_writes = {"PYTHONDONTWRITEBYTECODE": "1"}  # /opt and /var/task are read-only in Lambda
    modes: dict[str, tuple[Path, dict[str, Path], dict[str, str]]] = {
        "pyc": (LAYER, {f.logical_id: f.handler_file for f in functions}, {}),
        "as_deployed": (layer, sam_handlers, no_writes),
        "hash_pyc": (hashed_layer, hashed_handlers, no_writes),
    }
    envs = {
        (mode, f.logical_id): {**lambda_env(f, python_path, work), **extra}
        for mode, (python_path, _, extra) in modes.items()
        for f in functions
    }
    cases = [(mode, f) for mode in modes for f in functions]
    for mode, function in cases:  # untimed: writes the .pyc files of the "pyc" mode
        time_init(
            python, envs[mode, function.logical_id], modes[mode][1][function.logical_id], function.handler_function
        )
    samples: dict[tuple[str, str], list[float]] = {(m, f.logical_id): [] for m, f in cases}
    cpus: dict[tuple[str, str], list[float]] = {(m, f.logical_id): [] for m, f in cases}
    walls: dict[tuple[str, str], list[float]] = {(m, f.logical_id): [] for m, f in cases}
    imported: dict[tuple[str, str], set[str]] = {(m, f.logical_id): set() for m, f in cases}
    load_before = os.getloadavg()
    for run in range(runs):
        for mode, function in cases:  # interleaved, so the machine's load spreads over every case
            key = (mode, function.logical_id)
            seconds, cpu, wall, modules = time_init(
                python, envs[key], modes[mode][1][function.logical_id], function.handler_function
            )
            imported[key].update(modules)
            samples[key].append(seconds * 1000)
            cpus[key].append(cpu * 1000)
            walls[key].append(wall * 1000)
        progress(f"init run {run + 1}/{runs}")
    figures: dict[str, dict[str, Any]] = {f.logical_id: {} for f in functions}
    for (mode, name), values in samples.items():
        figures[name][mode] = {
            **summary(values),
            "samples_ms": values,
            "cpu_ms": summary(cpus[mode, name]),
            "process_wall_ms": summary(walls[mode, name]),
            "imported": sorted(imported[mode, name]),  # of MARKERS, in any of the runs
        }
    bare = []
    for _ in range(runs):
        started = time.perf_counter()
        checked([str(python), "-c", "pass"], {"PATH": "/usr/bin:/bin", "HOME": str(work)})
        bare.append((time.perf_counter() - started) * 1000)
    return {
        "functions": figures,
        "interpreter_startup_ms": summary(bare),
        "load_average": {"before": load_before, "after": os.getloadavg()},
    }


# -- 2 and 3. one container's issuances ------------------------------------------------------------


@contextmanager
def local_stack(work: Path) -> Iterator[Any]:
    """Pebble (EAB required) and moto on free ports; stopped when the block ends, however it ends."""
    from acmevault_cli.local.stack import LocalStack, free_port

    ports: set[int] = set()
    while len(ports) < 3:  # the kernel may hand the same free port out twice
        ports.add(free_port())
    pebble_port, management_port, moto_port = sorted(ports)
    stack = LocalStack(
        work / "stack",
        pebble_port=pebble_port,
        management_port=management_port,
        moto_port=moto_port,
        name="acmevault-coldstart",
        pebble_env=PEBBLE_ENV,
    )
    progress(f"starting Pebble and moto on free ports (state in {stack.state_dir}) ...")
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


def prepare_certificates(stack: Any, stack_env: dict[str, str]) -> dict[str, list[str]]:
    """Vault a directory (its account registered at Pebble now) and define two certificates per key type."""
    from acmevault.app.definition import define_certificate
    from acmevault.composition.config import Settings
    from acmevault.composition.services import build
    from acmevault.domain.certificate import CertificateSpec
    from acmevault.domain.directory import DirectoryCredential

    os.environ.update(stack_env)  # before any boto3 client: they read AWS_ENDPOINT_URL
    services = build(Settings.from_env(os.environ))
    credential = DirectoryCredential(
        directory_url=stack.directory_url, eab_kid="kid-1", eab_hmac_key=stack.eab_keys()["kid-1"]
    )
    services.accounts.vault(DIRECTORY, credential)
    names: dict[str, list[str]] = {}
    for key_type in KEY_TYPES:
        names[key_type] = [f"cs-{key_type}-{index}" for index in (1, 2)]
        for name in names[key_type]:
            spec = CertificateSpec.parse(
                name, {"domains": [f"{name}.{ZONE}"], "directory": DIRECTORY, "key_type": key_type}
            )
            define_certificate(spec, services)
    return names


def sqs_event(certificate: str) -> dict[str, Any]:
    """events/issue-sqs.json with this certificate in its one message."""
    event: dict[str, Any] = json.loads(SQS_EVENT.read_text())
    record = event["Records"][0]
    body = json.dumps({"certificate": certificate, "reason": "renewal"})  # what the sweep queues
    record.update(
        messageId=str(uuid.uuid4()), body=body, md5OfBody=hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
    )
    return {"Records": [record]}


def run_container(python: Path, function: Function, certificates: list[str], work: Path, label: str) -> dict[str, Any]:
    config_path, result_path = work / f"{label}.config.json", work / f"{label}.result.json"
    config_path.write_text(
        json.dumps(
            {
                "handler_file": str(function.handler_file),
                "handler_function": function.handler_function,
                "function": function.logical_id,
                "memory": function.memory,
                "timeout": function.timeout,
                "certificates": certificates,
                "events": [sqs_event(name) for name in certificates],
                "markers": list(MARKERS),
                "result": str(result_path),
            }
        )
    )
    log = work / f"{label}.log"  # the handler's own output: Powertools JSON logs and EMF metrics
    with log.open("wb") as out:
        returncode = subprocess.run(
            [str(python), "-c", ISSUE_CHILD, str(config_path)],
            env=lambda_env(function, LAYER, work),
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=300,
        ).returncode
    if returncode != 0 or not result_path.exists():
        raise BenchError(f"{label}: the container exited {returncode}:\n{log.read_text(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(result_path.read_text())
    if result["imported_by_counters"]:  # the counters would have moved cost out of the cold issuance
        raise BenchError(f"{label}: the counters imported {', '.join(result['imported_by_counters'])}")
    for issuance in result["issuances"]:
        if issuance["response"] != {"batchItemFailures": []}:
            tail = log.read_text(errors="replace")[-2000:]
            raise BenchError(f"{label}: {issuance['certificate']} was not issued: {issuance['response']}\n{tail}")
    return result


def check_issued(names: list[str]) -> dict[str, str]:
    """The serial on each record: a refused issuance is answered without a batch item failure."""
    from acmevault.composition.config import Settings
    from acmevault.composition.services import build

    certificates = build(Settings.from_env(os.environ)).certificates
    serials = {}
    for name in names:
        serial = certificates.get(name).state.serial
        if serial is None:
            raise BenchError(f"{name}: the handler answered, but the record has no certificate")
        serials[name] = serial
    return serials


class RequestTypes:
    """Names each request to Pebble: from its directory, and Pebble's paths for the resources it makes."""

    PEBBLE_PATHS = (
        ("/authZ/", "authz"),
        ("/chalZ/", "challenge POST"),
        ("/finalize-order/", "finalize"),
        ("/my-order/", "order"),
        ("/certZ/", "certificate download"),
        ("/my-account/", "account POST"),
    )

    def __init__(self, directory_url: str, document: dict[str, Any]) -> None:
        self.netloc = urlsplit(directory_url).netloc
        self.directory_path = urlsplit(directory_url).path
        self.named = {urlsplit(str(url)).path: key for key, url in document.items() if isinstance(url, str)}

    def classify(self, requests: list[dict[str, Any]]) -> Counter[str]:
        """One issuance's requests by type; authz and order fetches split by where they come in the flow."""
        counts: Counter[str] = Counter()
        challenged = finalized = False
        for request in requests:
            url = urlsplit(request["url"])
            if url.netloc != self.netloc:
                continue
            kind = self._kind(url.path, request["method"])
            if kind == "authz":
                kind = "authz poll" if challenged else "authz GET"
            elif kind == "order":
                kind = "order poll" if finalized else "order GET"
            challenged |= kind == "challenge POST"
            finalized |= kind == "finalize"
            counts[kind] += 1
            if request["status"] >= 400:
                counts[f"{kind} (HTTP {request['status']})"] += 1
        return counts

    def _kind(self, path: str, method: str) -> str:
        if path == self.directory_path:
            return "directory GET"
        if path in self.named:
            return {"newNonce": f"newNonce {method}", "newAccount": "newAccount (account lookup)"}.get(
                self.named[path], self.named[path]
            )
        for prefix, kind in self.PEBBLE_PATHS:
            if path.startswith(prefix):
                return kind
        renewal_info = next((p for p, k in self.named.items() if k == "renewalInfo"), None)
        if renewal_info and path.startswith(renewal_info):
            return "renewalInfo GET (ARI)"
        return f"other {method} {path}"


def directory_document(stack: Any) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(stack.ca_bundle))
    with urllib.request.urlopen(stack.directory_url, context=context, timeout=10) as response:  # noqa: S310
        document: dict[str, Any] = json.loads(response.read())
    return document


def measure_issuance(python: Path, work: Path) -> dict[str, Any]:
    with local_stack(work) as stack:
        stack_env = stack.env()
        issue = next((f for f in template_functions(stack_env) if f.handler_file.parent.name == "issue"), None)
        if issue is None:
            raise BenchError(f"{TEMPLATE} has no function with its code in functions/issue/")
        names = prepare_certificates(stack, stack_env)
        document = directory_document(stack)
        types = RequestTypes(stack.directory_url, document)
        containers = {}
        for key_type, certificates in names.items():
            progress(f"issuing {' then '.join(certificates)} in one fresh IssueFunction container ...")
            result = run_container(python, issue, certificates, work, key_type)
            serials = check_issued(certificates)
            per_issuance = []
            for index, name in enumerate(certificates, 1):
                requests = [r for r in result["http"] if r["issuance"] == index]
                per_issuance.append(
                    {
                        "certificate": name,
                        "serial": serials[name],
                        "seconds": result["issuances"][index - 1]["seconds"],
                        "cpu_seconds": result["issuances"][index - 1]["cpu_seconds"],
                        "pebble_requests": dict(types.classify(requests)),
                        "pebble_requests_total": sum(1 for r in requests if urlsplit(r["url"]).netloc == types.netloc),
                        "aws_calls": dict(Counter(c["call"] for c in result["aws"] if c["issuance"] == index)),
                        "aws_retries": dict(Counter(c["call"] for c in result["retries"] if c["issuance"] == index)),
                        "secret_reads": sum(1 for s in result["secret_reads"] if s["issuance"] == index),
                        "imported": result["imported_by_issuance"][index - 1],  # of MARKERS, first imported here
                    }
                )
            containers[key_type] = {
                "function": issue.logical_id,
                "import_seconds": result["import_seconds"],
                "imported_at_init": result["imported_at_init"],  # of MARKERS
                "rss_mb": result["rss_mb"],
                "issuances": per_issuance,
                "secret_reads": result["secret_reads"],
            }
    return {
        "pebble_env": {"PEBBLE_VA_ALWAYS_VALID": "1", "PEBBLE_VA_NOSLEEP": "1", **PEBBLE_ENV},
        "ari": "renewalInfo" in document,
        "containers": containers,
    }


# -- report ----------------------------------------------------------------------------------------

# Per issuance of a one-name certificate proved with dns-01, what RFC 8555 cannot do without.
# None: at the CA's pace (a poll is repeated until the CA is done; Retry-After is honoured).
PROTOCOL_MINIMUM: dict[str, tuple[int | None, int | None]] = {  # (cold container, warm container)
    "directory GET": (1, 0),
    "newNonce HEAD": (1, 0),
    "newAccount (account lookup)": (0, 0),  # the account URL is in the directory secret
    "account POST": (0, 0),
    "newOrder": (1, 1),
    "authz GET": (1, 1),
    "challenge POST": (1, 1),
    "authz poll": (None, None),
    "finalize": (1, 1),
    "order poll": (None, None),
    "certificate download": (1, 1),
}


def protocol_minimum(ari: bool) -> dict[str, tuple[int | None, int | None]]:
    """With ARI (RFC 9773) advertised, one renewalInfo GET for the new certificate's renewal window."""
    return {**PROTOCOL_MINIMUM, "renewalInfo GET (ARI)": (1, 1) if ari else (0, 0)}


ACCOUNT_LOOKUPS = ("newAccount (account lookup)", "account POST")


def verdict(met: bool) -> str:
    return "yes" if met else "**no**"


def init_verdict(figures: dict[str, Any]) -> str:
    """On CPU time, which other load on the machine hardly changes (the wall median is shown beside it)."""
    return verdict(figures["cpu_ms"]["median"] <= INIT_TARGET_MS)


def markdown(results: dict[str, Any]) -> str:
    runs, init, issuance = results["runs"], results["init"], results["issuance"]["containers"]
    minimums = protocol_minimum(results["issuance"]["ari"])
    host = results["machine"]
    lines = [
        f"Cold start, memory and requests per issuance, {results['started_at']}: {results['runtime']['python']}, "
        f"{host['nproc']} CPUs ({host['cpu']}); child processes in {RUNTIME_VENV.name} (boto3 and "
        f"{REQUIREMENTS.relative_to(ROOT)} only), layers/acmevault on PYTHONPATH.",
        "",
        "| measurement | result | target | met |",
        "| --- | --- | --- | --- |",
    ]
    for name, figures in init["functions"].items():
        for mode, label in INIT_MODES.items():
            f = figures[mode]
            lines.append(
                f"| `{name}` import + init, {label} (median / p90 of {runs}; CPU median) "
                f"| {f['median']:.0f} / {f['p90']:.0f} ms; CPU {f['cpu_ms']['median']:.0f} ms "
                f"| <= {INIT_TARGET_MS:.0f} ms CPU (median) | {init_verdict(f)} |"
            )
    at_init = {
        name: sorted({m for f in figures.values() for m in f["imported"] if m in BOTOCORE_CLIENT_MODULES})
        for name, figures in init["functions"].items()
    }
    found = "; ".join(f"`{name}`: {', '.join(modules)}" for name, modules in at_init.items() if modules)
    lines.append(
        f"| {botocore_modules()} imported by a handler's init ({', '.join(f'`{n}`' for n in at_init)}; "
        f"every way, every run) | {found or 'none'} | never | {verdict(not found)} |"
    )
    for key_type in KEY_TYPES:
        container = issuance[key_type]
        rss = container["rss_mb"]
        lines.append(
            f"| peak RSS, one issuance, {key_type} (`{container['function']}`, fresh process) "
            f"| {rss['after_issuance_1']:.0f} MB (after import {rss['after_import']:.0f} MB; "
            f"after a 2nd issuance {rss['after_issuance_2']:.0f} MB) | < {RSS_TARGET_MB:.0f} MB "
            f"| {verdict(rss['after_issuance_1'] < RSS_TARGET_MB)} |"
        )
    for key_type in KEY_TYPES:
        cold, warm = issuance[key_type]["issuances"]
        for label, one, column in (("cold container, 1st", cold, 0), ("warm container, 2nd", warm, 1)):
            lines.append(
                f"| requests to Pebble, {label} issuance ({key_type}) | {one['pebble_requests_total']} "
                f"| protocol minimum | {verdict(at_minimum(one['pebble_requests'], minimums, column))} |"
            )
    for key_type in KEY_TYPES:
        cold, warm = issuance[key_type]["issuances"]
        nonces = sum(n for i in (cold, warm) for k, n in i["pebble_requests"].items() if k.startswith("newNonce"))
        lookups = sum(
            i["pebble_requests"].get(k, 0)
            for i in (cold, warm)
            for k in ("newAccount (account lookup)", "account POST")
        )
        reads = cold["secret_reads"] + warm["secret_reads"]
        lines += [
            f"| newNonce requests, two issuances in one container ({key_type}) | {nonces} | 1 per container "
            f"| {verdict(nonces <= 1)} |",
            f"| account lookups (newAccount, account POST), two issuances ({key_type}) | {lookups} "
            f"| at most 1 per container | {verdict(lookups <= 1)} |",
            f"| Secrets Manager GetSecretValue, two issuances, one directory ({key_type}) | {reads} "
            f"| at most 1 per directory | {verdict(reads <= 1)} |",
            f"| AWS API calls (moto), cold / warm issuance ({key_type}) "
            f"| {sum(cold['aws_calls'].values())} / {sum(warm['aws_calls'].values())}; {retries(cold, warm)} "
            "| — | — |",
            f"| {botocore_modules()} imported by the cold / warm issuance ({key_type}) "
            f"| {botocore_imported(cold)} / {botocore_imported(warm)} | never "
            f"| {verdict(botocore_imported(cold) == botocore_imported(warm) == 'none')} |",
            f"| handler wall / CPU time, cold / warm issuance ({key_type}; the cold one builds the clients and "
            f"imports {deferred(cold)}) "
            f"| {cold['seconds'] * 1000:.0f} / {cold['cpu_seconds'] * 1000:.0f} ms; "
            f"{warm['seconds'] * 1000:.0f} / {warm['cpu_seconds'] * 1000:.0f} ms | "
            + (
                f"cold <= {FIRST_ISSUANCE_TARGET_MS:.0f} ms beyond init | "
                f"{verdict(cold['seconds'] * 1000 <= FIRST_ISSUANCE_TARGET_MS)} |"
                if key_type == "ec-p256"
                else "— (an RSA-4096 key takes 0.2-2 s to generate) | — |"
            ),
        ]
    startup, load = init["interpreter_startup_ms"], init["load_average"]
    lines += [
        "",
        f"Init is timed inside the child around loading functions/<name>/app.py (wall clock; CPU: the child's "
        f"process time, which other load on the machine hardly changes); the bare interpreter's startup "
        f"(`python -c pass`, median {startup['median']:.0f} ms) comes on top, as does the Lambda runtime's own. "
        f"Load average during the init runs: {load['before'][0]:.2f} before, {load['after'][0]:.2f} after.",
        "",
        "Peak RSS: VmHWM of the child process (ru_maxrss is inherited from the spawning process on Linux).",
        "",
        "Requests to Pebble by type, per issuance of a one-name certificate (dns-01):",
        "",
        "| request | " + " | ".join(f"{k} cold | {k} warm" for k in KEY_TYPES) + " | minimum cold / warm |",
        "| --- | " + " | ".join("---: | ---:" for _ in KEY_TYPES) + " | --- |",
    ]
    kinds = list(minimums)
    for key_type in KEY_TYPES:
        for one in issuance[key_type]["issuances"]:
            kinds += [k for k in one["pebble_requests"] if k not in kinds]
    for kind in kinds:
        counts = [str(one["pebble_requests"].get(kind, 0)) for k in KEY_TYPES for one in issuance[k]["issuances"]]
        cold_min, warm_min = minimums.get(kind, (None, None))
        minimum = "CA's pace" if kind in minimums and cold_min is None else f"{cold_min} / {warm_min}"
        if kind not in minimums:
            minimum = "—"
        lines.append(f"| {kind} | {' | '.join(counts)} | {minimum} |")
    lines += [
        "",
        "AWS API calls by operation, per issuance (a call is its first send; a retry is counted apart):",
        "",
        "| call | " + " | ".join(f"{k} cold | {k} warm" for k in KEY_TYPES) + " |",
        "| --- | " + " | ".join("---: | ---:" for _ in KEY_TYPES) + " |",
    ]
    calls: list[str] = []
    for key_type in KEY_TYPES:
        for one in issuance[key_type]["issuances"]:
            calls += [c for c in one["aws_calls"] if c not in calls]
    for call in calls:
        counts = [str(one["aws_calls"].get(call, 0)) for k in KEY_TYPES for one in issuance[k]["issuances"]]
        lines.append(f"| {call} | {' | '.join(counts)} |")
    return "\n".join(lines)


def botocore_modules() -> str:
    return " or ".join(f"`{m}`" for m in BOTOCORE_CLIENT_MODULES)


def botocore_imported(issuance: dict[str, Any]) -> str:
    """Which of botocore's client modules this issuance imported first (its init's are reported apart)."""
    return ", ".join(m for m in issuance["imported"] if m in BOTOCORE_CLIENT_MODULES) or "none"


def retries(cold: dict[str, Any], warm: dict[str, Any]) -> str:
    """The AWS client's retries (sends after a call's first), if there were any."""
    counts = [sum(one["aws_retries"].values()) for one in (cold, warm)]
    if not any(counts):
        return "no retries"
    both = Counter(cold["aws_retries"]) + Counter(warm["aws_retries"])
    which = ", ".join(f"{call} x{n}" for call, n in sorted(both.items()))
    return f"retries {counts[0]} / {counts[1]} ({which})"


def deferred(issuance: dict[str, Any]) -> str:
    """Which of the libraries left to the first call that needs them this issuance imported."""
    modules = [m.split(".")[0] for m in issuance["imported"] if m in DEFERRED_MODULES]
    return ", ".join(modules) or "nothing"


def at_minimum(counts: dict[str, int], minimum_counts: dict[str, tuple[int | None, int | None]], column: int) -> bool:
    """Every request type with a fixed minimum at exactly it, and nothing of a type not in the flow."""
    if any(kind not in minimum_counts for kind in counts):
        return False
    for kind, minimums in minimum_counts.items():
        minimum = minimums[column]
        if minimum is not None and counts.get(kind, 0) != minimum:
            return False
    return True


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return {"nproc": os.cpu_count(), "cpu": cpu, "platform": platform.platform(), "load": os.getloadavg()}


# -- main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per function and mode (default 15)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def benchmark(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    python, note = ensure_runtime_venv()
    packages = runtime_packages(python)
    started = datetime.now(UTC)
    functions = template_functions(PLACEHOLDER_STACK_ENV)
    names = ", ".join(f.logical_id for f in functions)
    progress(f"init: {names}, {args.runs} fresh processes each, {len(INIT_MODES)} ways ...")
    init = measure_init(python, functions, args.runs, work)
    issuance = measure_issuance(python, work)
    return {
        "started_at": started.isoformat(timespec="seconds"),
        "runs": args.runs,
        "machine": machine(),
        "runtime": {"python": note, "venv": RUNTIME_VENV.name, "packages": packages},
        "targets": {
            "init_cpu_median_ms": INIT_TARGET_MS,
            "first_issuance_ms": FIRST_ISSUANCE_TARGET_MS,
            "peak_rss_mb": RSS_TARGET_MB,
        },
        "init": init,
        "issuance": issuance,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds through the stack's finally
    try:
        ensure_project_python()  # may re-execute this script in the project venv: before any temporary directory
    except BenchError as error:
        progress(f"coldstart: {error}")
        return 1
    work = Path(tempfile.mkdtemp(prefix="acmevault-coldstart-"))
    failed = True
    try:
        from acmevault.domain.errors import AcmeVaultError

        try:
            results = benchmark(args, work)
        except AcmeVaultError as error:
            raise BenchError(error.message) from None
        failed = False
    except BenchError as error:
        progress(f"coldstart: {error}")
        return 1
    except KeyboardInterrupt:
        progress("coldstart: interrupted")
        return 130
    finally:
        if failed:
            progress(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    progress(f"raw numbers: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
