"""What the README's commands install: `make lab` only what running the labs needs, quietly."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatch

from kit.config import REPO_ROOT

TEST_TOOLS = {"pytest", "pytest-timeout", "pytest-xdist", "nbval", "hypothesis", "playwright"}


def _installs(target: str, venv) -> list[str]:
    """The commands `make TARGET` would run to install the kit into a new virtual environment at ``venv``."""
    planned = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=30, check=True).stdout
    return [line for line in planned.splitlines() if re.search(r"-m pip install .*-e ", line)]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[;\s]", requirement, maxsplit=1)[0].lower()


def test_make_lab_installs_the_kit_without_the_test_tools_and_make_test_with_them(tmp_path):
    lab, test = _installs("lab", tmp_path / "venv"), _installs("test", tmp_path / "venv")
    assert len(lab) == 1 and lab[0].endswith("-e '.'") and "--quiet" in lab[0], lab
    assert len(test) == 1 and test[0].endswith("-e '.[dev]'") and "--quiet" in test[0], test
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert not {_name(r) for r in project["dependencies"]} & TEST_TOOLS
    assert TEST_TOOLS <= {_name(r) for r in project["optional-dependencies"]["dev"]}


def test_installing_the_kit_prints_no_warning_box(tmp_path):
    """The build backend's warnings reach the terminal even under pip --quiet, boxed in asterisks."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                           "--disable-pip-version-check", "-e", str(REPO_ROOT)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    printed = done.stdout + done.stderr
    assert not re.search(r"\*{20}|BuildBackendWarning|Deprecat", printed), printed
    found = subprocess.run([str(python), "-c", "import kit.config; print(kit.config.REPO_ROOT)"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert found.stdout.strip() == str(REPO_ROOT), found.stderr


def test_every_data_file_in_the_kit_is_package_data():
    """A non-editable install copies only modules and the files pyproject names (the burn-rate policy table, the
    mob's JupyterLab extension)."""
    listed = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    kit = REPO_ROOT / "kit"
    data = [path for path in kit.rglob("*") if path.is_file() and path.suffix not in (".py", ".pyc")]
    assert any(path.name == "burn_rate_windows.yaml" for path in data)
    for path in data:
        parts = path.relative_to(REPO_ROOT).parts
        # a pattern belongs to a package and may reach into its sub-folders (kit's "labextensions/*/package.json")
        assert any(fnmatch("/".join(parts[i:]), pattern)
                   for i in range(1, len(parts)) for pattern in listed.get(".".join(parts[:i]), [])), (
            f"{path} is not package data")
