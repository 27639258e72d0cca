"""What `sam build` produced (run by `make build`): arm64 wheels, our package in the layer, sizes."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.packaging.lock import LOCK, read_lock

BUILD = Path(os.environ.get("ACMEVAULT_BUILD_DIR", Path(__file__).resolve().parents[2] / ".aws-sam" / "build"))

pytestmark = pytest.mark.skipif(
    not (BUILD / "template.yaml").exists(), reason=f"no sam build output in {BUILD}: run 'make build'"
)


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def test_the_layer_holds_acmevault_and_its_dependencies():
    python = BUILD / "AcmeVaultLayer" / "python"
    for package in ("acmevault", "acme", "josepy", "cryptography", "aws_lambda_powertools"):
        assert (python / package / "__init__.py").exists(), package
    assert (python / "acmevault" / "app" / "issuance.py").exists()


def test_the_layer_holds_runtime_code_only():
    """The operator CLI and the local stack (Pebble and moto launchers, a DNS server, local invoke) stay out."""
    python = BUILD / "AcmeVaultLayer" / "python"
    assert (python / "acmevault" / "entrypoints" / "http" / "api.py").exists()  # the check looks where the code is
    assert not (python / "acmevault_cli").exists()
    sources = {path.relative_to(python / "acmevault").as_posix() for path in (python / "acmevault").rglob("*.py")}
    tooling = {
        name
        for name in sources
        if any(part in {"cli", "cli.py", "local"} or part.startswith(("cli_", "local_")) for part in name.split("/"))
    }
    assert tooling == set()
    for source in (python / "acmevault").rglob("*.py"):
        imported = set()
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
        assert not imported & {"subprocess", "acmevault_cli"}, source


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")  # e_machine


AARCH64 = 183


def test_compiled_wheels_are_for_arm64():
    python = BUILD / "AcmeVaultLayer" / "python"
    libraries = list(python.rglob("*.so"))
    assert python / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so" in libraries
    for library in libraries:
        assert elf_machine(library) == AARCH64, library


PY313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"  # importlib.util.MAGIC_NUMBER of CPython 3.13


def test_bytecode_is_compiled_for_the_runtimes_python_313():
    python = BUILD / "AcmeVaultLayer" / "python"
    compiled = list(python.rglob("*.pyc"))
    assert python / "acmevault" / "app" / "__pycache__" / "issuance.cpython-313.pyc" in compiled
    for pyc in compiled:
        assert pyc.read_bytes()[:4] == PY313_MAGIC, pyc


def test_sizes_are_well_under_lambdas_limits():
    layer = size_mb(BUILD / "AcmeVaultLayer")
    assert layer < 30, f"the layer is {layer:.1f} MB unzipped"
    for function in ("IssueFunction", "RenewFunction", "ApiFunction", "RotateFunction"):
        if (BUILD / function).exists():
            assert size_mb(BUILD / function) < 1


def assert_manifest_matches_the_lock(layer: Path) -> None:
    """The manifest beside python/ names every distribution packed, at the locked version and hash."""
    manifest = json.loads((layer / "acmevault-layer-manifest.json").read_text())
    packed = {p["name"]: p for p in manifest["packages"]}
    pins = read_lock(LOCK.read_text())
    assert set(packed) == {*pins, "acmevault"}
    for name, pin in pins.items():
        assert packed[name]["version"] == pin.version, name
        assert packed[name]["sha256"] in pin.hashes, f"{name}: the wheel packed is not the one locked"
    installed = {canonicalize_name(d.name.split("-")[0]) for d in (layer / "python").glob("*.dist-info")}
    assert installed == set(pins)
    assert packed["acmevault"]["version"] == "0.1.0" and len(packed["acmevault"]["sha256"]) == 64


def test_the_manifest_records_what_was_packed_as_locked():
    assert_manifest_matches_the_lock(BUILD / "AcmeVaultLayer")
