"""The layer build (`sam build` runs `make build-AcmeVaultLayer`) from the shells SAM users have.

These download the layer's wheels from PyPI (about a minute, less with pip's cache), so `make build`
runs them — it needs PyPI anyway and checks what was built — and `make test` stays offline.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

from tests.packaging.lock import read_lock
from tests.packaging.test_build import AARCH64, PY313_MAGIC, assert_manifest_matches_the_lock, elf_machine

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make") or "make"
SH = shutil.which("sh") or "/bin/sh"
LAYER_SOURCE = ROOT / "layers" / "acmevault"

pytestmark = pytest.mark.skipif(
    os.environ.get("ACMEVAULT_LAYER_BUILDS") != "1",
    reason="builds the layer from PyPI: run by 'make build' (or set ACMEVAULT_LAYER_BUILDS=1)",
)


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with pip, as a user who installed aws-sam-cli with pip has activated."""
    path = tmp_path_factory.mktemp("venv")
    venv.create(path, with_pip=True)
    version = subprocess.run(
        [path / "bin" / "python", "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if version == "True":
        pytest.skip("this virtualenv's Python is 3.13 itself: the case under test needs another version first")
    return path / "bin"


def build(artifacts: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    artifacts.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [MAKE, "-C", str(LAYER_SOURCE), "build-AcmeVaultLayer", f"ARTIFACTS_DIR={artifacts}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def user_env(venv_bin: Path, **extra: str) -> dict[str, str]:
    """The shell of a user with the virtualenv activated: its bin first, no pyenv selection."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYENV_VERSION", "PYTHON313", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv_bin}{os.pathsep}{env['PATH']}", VIRTUAL_ENV=str(venv_bin.parent), **extra)
    return env


def without_python313(venv_bin: Path, tmp_path: Path, **extra: str) -> dict[str, str]:
    """A shell where no Python 3.13 can be found: the virtualenv, the system's bin, an empty pyenv."""
    env = user_env(venv_bin, **extra)
    env.update(PATH=f"{venv_bin}{os.pathsep}/usr/bin{os.pathsep}/bin", PYENV_ROOT=str(tmp_path / "no-pyenv"))
    return env


def digest(layer: Path) -> dict[str, str]:
    return {
        str(f.relative_to(layer)): hashlib.sha256(f.read_bytes()).hexdigest() for f in layer.rglob("*") if f.is_file()
    }


def assert_built_for_lambda(layer: Path) -> None:
    python = layer / "python"
    assert (python / "acmevault" / "app" / "__pycache__" / "issuance.cpython-313.pyc").exists()
    compiled = list(python.rglob("*.pyc"))
    assert len(compiled) > 100
    for pyc in compiled:
        assert pyc.read_bytes()[:4] == PY313_MAGIC, pyc
    libraries = list(python.rglob("*.so"))
    assert python / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so" in libraries
    for library in libraries:
        assert elf_machine(library) == AARCH64, library
    assert_manifest_matches_the_lock(layer)


@pytest.fixture(scope="module")
def python313() -> str:
    found = subprocess.run([SH, str(LAYER_SOURCE / "find-python313.sh")], capture_output=True, text=True, check=True)
    return found.stdout.strip()


@pytest.fixture(scope="module")
def built_from_a_virtualenv(user_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    layer = tmp_path_factory.mktemp("layer-venv")
    result = build(layer, user_env(user_venv))
    assert result.returncode == 0, result.stderr[-2000:]
    return layer


def test_a_virtualenvs_python_first_on_path_builds_the_layer_for_313(built_from_a_virtualenv: Path) -> None:
    assert_built_for_lambda(built_from_a_virtualenv)


def test_python313_names_the_interpreter_and_builds_the_same_layer(
    user_venv: Path, python313: str, built_from_a_virtualenv: Path, tmp_path: Path
) -> None:
    layer = tmp_path / "layer"
    result = build(layer, without_python313(user_venv, tmp_path, PYTHON313=python313))
    assert result.returncode == 0, result.stderr[-2000:]
    assert_built_for_lambda(layer)
    assert digest(layer) == digest(built_from_a_virtualenv)


def test_without_python313_one_line_says_what_to_install_before_any_download(user_venv: Path, tmp_path: Path) -> None:
    if subprocess.run(["/usr/bin/python3", "-c", "import sys; sys.exit(sys.version_info[:2] == (3, 13))"]).returncode:
        pytest.skip("the system's python3 is 3.13 here")
    layer = tmp_path / "layer"
    result = build(layer, without_python313(user_venv, tmp_path))
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert ours == [
        "no Python 3.13 found to compile the layer's bytecode for the python3.13 runtime: install it "
        "(pyenv install 3.13, uv python install 3.13, or your system's python3.13 package) or set "
        "PYTHON313=/path/to/python3.13"
    ]
    assert list(layer.iterdir()) == [], "nothing is downloaded without an interpreter to compile it"


def test_a_python313_that_is_not_313_is_refused_in_one_line(user_venv: Path, tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    result = build(layer, without_python313(user_venv, tmp_path, PYTHON313=str(user_venv / "python")))
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert len(ours) == 1 and ours[0].startswith(f"PYTHON313={user_venv / 'python'} is not a Python 3.13"), ours
    assert list(layer.iterdir()) == []


def test_a_wheel_that_does_not_match_the_lock_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "layer"
    shutil.copytree(LAYER_SOURCE, source, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    lock = source / "requirements.lock"
    pins = read_lock(lock.read_text())
    lock.write_text(
        lock.read_text().replace(pins["josepy"].hashes[0], "0" * 64).replace(pins["josepy"].hashes[-1], "0" * 64)
    )
    layer = tmp_path / "out"
    layer.mkdir()
    result = subprocess.run(
        [MAKE, "-C", str(source), "build-AcmeVaultLayer", f"ARTIFACTS_DIR={layer}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode != 0
    assert "DO NOT MATCH THE HASHES" in result.stderr and "josepy" in result.stderr
    assert not (layer / "python").exists(), "nothing is installed from a download that failed its hash"
