"""The boto3 type stubs (mypy_boto3_*) are development dependencies: no module imports them at run time.

The Lambda layer and the ``[local]`` extra do not install them, so every module of both packages is imported
here in a fresh interpreter that refuses them; a module that imported one outside ``TYPE_CHECKING`` fails.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

REFUSING_STUBS = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class RefuseStubs:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0].startswith("mypy_boto3"):
                raise ModuleNotFoundError(f"No module named {name!r} (a development dependency)", name=name)
            return None

    sys.meta_path.insert(0, RefuseStubs())
    for package_name in sys.argv[1:]:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, package_name + "."):
            importlib.import_module(module.name)
    print("imported", len(sys.modules))
    """
)


def import_everything(*packages: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", REFUSING_STUBS, *packages], capture_output=True, text=True, timeout=120
    )


def test_every_module_imports_without_the_stubs() -> None:
    result = import_everything("acmevault", "acmevault_cli")
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout


def test_a_module_that_needs_the_stubs_is_caught() -> None:
    result = import_everything("mypy_boto3_s3")
    assert result.returncode != 0
    assert "ModuleNotFoundError: No module named 'mypy_boto3_s3'" in result.stderr
