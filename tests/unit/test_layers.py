"""The layer rules in pyproject.toml ([tool.importlinter]) hold, and they do fail on an import that breaks them.

`make lint` runs ``lint-imports`` on the tree; here it runs on a copy, once as it is and once with a use case that
reaches an adapter, so a rule that could never fail would show up as a failing test.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    source = ROOT / "layers" / "acmevault"
    for package in ("acmevault", "acmevault_cli"):
        shutil.copytree(source / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_tree_keeps_every_layer_rule(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "refused"),
    [
        ("app/history.py", "import acmevault.adapters.aws.table", "acmevault.app.history -> acmevault.adapters"),
        ("domain/policy.py", "import acmevault.app.authorization", "acmevault.domain.policy -> acmevault.app"),
        ("adapters/aws/s3.py", "import acmevault.app.issuance", "acmevault.adapters.aws.s3 -> acmevault.app"),
        ("app/views.py", "import acmevault_cli.output", "acmevault.app.views -> acmevault_cli"),
        ("entrypoints/runtime.py", "import acmevault.adapters.aws.sns", "acmevault.entrypoints.runtime -> acmevault"),
    ],
)
def test_an_import_across_a_layer_fails_the_lint(tree: Path, module: str, line: str, refused: str) -> None:
    path = tree / "acmevault" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0
    assert refused in result.stdout, result.stdout
