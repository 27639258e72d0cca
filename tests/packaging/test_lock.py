"""The layer's lock agrees with requirements.txt: every direct requirement pinned at a version it allows,
nothing pinned as direct that requirements.txt does not ask for, every pin with its hashes, resolved for
the runtime (Python 3.13, arm64, wheels only). `make lock` writes it; the layer build installs only it."""

from __future__ import annotations

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.packaging.lock import LOCK, REQUIREMENTS, read_lock


def direct_requirements(text: str) -> dict[str, Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return {canonicalize_name(r.name): r for r in map(Requirement, filter(None, lines))}


def disagreements(requirements_text: str, lock_text: str) -> list[str]:
    """What is wrong between the two files, in words; empty when they agree."""
    wanted, pins = direct_requirements(requirements_text), read_lock(lock_text)
    problems = []
    for name, requirement in wanted.items():
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{name} is in requirements.txt but not in the lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{name}=={pin.version} in the lock is outside {requirement.specifier}")
    for name, pin in pins.items():
        if "-r requirements.txt" in pin.via and name not in wanted:
            problems.append(f"{name} is locked as a direct requirement but requirements.txt no longer asks for it")
        if not pin.hashes:
            problems.append(f"{name} has no hash")
    return problems


def test_the_lock_agrees_with_requirements_txt():
    assert disagreements(REQUIREMENTS.read_text(), LOCK.read_text()) == []


def test_the_lock_is_resolved_for_the_lambda_runtime():
    header = LOCK.read_text().splitlines()[:3]
    command = " ".join(header)
    for flag in ("--python-platform aarch64-manylinux2014", "--python-version 3.13", "--only-binary :all:"):
        assert flag in command, flag
    assert "--generate-hashes" in command


def test_a_lock_that_disagrees_is_caught():
    requirements, lock = REQUIREMENTS.read_text(), LOCK.read_text()
    tightened = requirements.replace("acme>=5.0,<6", "acme>=6.0,<7")
    assert any("acme==" in p and "outside" in p for p in disagreements(tightened, lock))
    added = requirements + "pyyaml>=6\n"
    assert disagreements(added, lock) == ["pyyaml is in requirements.txt but not in the lock"]
    dropped = "\n".join(line for line in requirements.splitlines() if not line.startswith("josepy"))
    assert disagreements(dropped, lock) == [
        "josepy is locked as a direct requirement but requirements.txt no longer asks for it"
    ]
    unhashed = lock.replace("--hash=sha256:", "--hash=md5:")
    assert "acme has no hash" in disagreements(requirements, unhashed)
