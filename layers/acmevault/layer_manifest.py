"""Write the layer's manifest: what the build packed — each wheel's name, version and sha256 (the hash
requirements.lock pinned), and acmevault's version with a sha256 over its files.

Run by the layer's Makefile: ``python layer_manifest.py WHEELS_DIR PACKAGE_DIR > acmevault-layer-manifest.json``.
Standard library only: it runs with whichever Python runs pip.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path


def wheel_entry(wheel: Path) -> dict[str, str]:
    # A wheel's file name is {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl (PEP 427).
    name, version = wheel.name.split("-")[:2]
    return {
        "name": re.sub(r"[-_.]+", "-", name).lower(),
        "version": version,
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "file": wheel.name,
    }


def package_entry(package: Path) -> dict[str, str]:
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*.py") if "__pycache__" not in p.parts):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    version = re.search(r'__version__ = "([^"]+)"', (package / "__init__.py").read_text())
    return {"name": package.name, "version": version.group(1) if version else "unknown", "sha256": digest.hexdigest()}


def manifest(wheels: Path, package: Path) -> dict[str, object]:
    return {
        "python": "3.13",
        "platform": "manylinux2014_aarch64",
        "packages": [package_entry(package), *(wheel_entry(w) for w in sorted(wheels.glob("*.whl")))],
    }


if __name__ == "__main__":
    wheels_dir, package_dir = (Path(arg) for arg in sys.argv[1:3])
    json.dump(manifest(wheels_dir, package_dir), sys.stdout, indent=2)
    sys.stdout.write("\n")
