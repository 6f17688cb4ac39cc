"""constraints.txt pins every dependency pyproject.toml declares, at a version pyproject.toml allows."""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kit.config import REPO_ROOT


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not NAME==VERSION; run `make lock`"
            pins[canonicalize_name(name)] = version
    return pins


def test_every_declared_dependency_is_pinned_within_its_range():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    declared = [*project["build-system"]["requires"], *project["project"]["dependencies"],
                *(requirement for extra in project["project"]["optional-dependencies"].values() for requirement in extra)]
    pins = _pins()
    for text in declared:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned, f"{requirement.name} is in pyproject.toml but not in constraints.txt: run `make lock`"
        assert requirement.specifier.contains(pinned, prereleases=True), (
            f"constraints.txt pins {requirement.name}=={pinned}, outside pyproject.toml's {text!r}: run `make lock`"
        )
    assert "pip" in pins, "constraints.txt must pin pip, which the Makefile upgrades first"
