"""The kit's architecture holds: its layers and the absence of import cycles (the import-linter contracts in
pyproject.toml), and no module uses another module's private (underscore) names."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kit
from kit.config import REPO_ROOT

KIT = REPO_ROOT / "kit"


def test_the_import_contracts_hold():
    run = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=REPO_ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "2 kept, 0 broken" in run.stdout, run.stdout[-2000:]


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a relative import's target (``from ..x import y`` in ``kit.a.b`` → ``kit.x``)."""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def private_uses(path: Path, root: Path = REPO_ROOT) -> list[str]:
    """``module:line: name`` for each private name this file (under ``root``) takes from another kit module:
    ``from .x import _y``, or ``x._y`` where ``x`` is a kit module it imported."""
    module, is_package = _module_name(path, root), path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kit_modules: dict[str, str] = {}  # local name → kit module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node.level, node.module) if node.level else node.module or ""
            if not source.startswith("kit"):
                continue
            for alias in node.names:
                target = root.joinpath(*source.split("."), alias.name)
                if target.with_suffix(".py").exists() or (target / "__init__.py").exists():
                    kit_modules[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif alias.name.startswith("_") and not alias.name.startswith("__") and source != module:
                    found.append(f"{module}:{node.lineno}: {source}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kit.") and alias.asname:
                    kit_modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in kit_modules \
                and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append(f"{module}:{node.lineno}: {kit_modules[node.value.id]}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names():
    found = [use for path in sorted(KIT.rglob("*.py")) for use in private_uses(path)]
    assert not found, "private names used across modules (make them public, or move the code):\n" + "\n".join(found)


def test_the_checker_sees_both_ways_of_reaching_in(tmp_path):
    (tmp_path / "kit").mkdir()
    (tmp_path / "kit" / "drills.py").write_text("def _secret(): ...\n")
    sample = tmp_path / "kit" / "sample.py"
    sample.write_text("from . import drills\nfrom .slo import _hidden\nfrom .timeline import clock\ndrills._secret()\n")
    assert private_uses(sample, tmp_path) == ["kit.sample:2: kit.slo._hidden", "kit.sample:4: kit.drills._secret"]


@pytest.mark.parametrize(("old", "new"), sorted(kit.MOVED.items()))
def test_a_moved_module_keeps_its_old_name_for_one_release(old, new):
    moved = importlib.import_module(f"kit.{new}")
    sys.modules.pop(f"kit.{old}", None)
    with pytest.warns(DeprecationWarning, match=rf"kit\.{old} moved to kit\.{re.escape(new)}"):
        aliased = importlib.import_module(f"kit.{old}")
    assert aliased is moved
    assert moved.__spec__.name == f"kit.{new}"  # still its own module, importable and reloadable under its name


def test_the_sandboxs_python_processes_leave_httpxs_command_line_client_unloaded():
    """It costs 3 to 6 MB in each of them (kit._skip_httpx_cli); the library itself still works."""
    probe = ("import sys, kit.shop.service, httpx; "
             "print(sys.modules.get('httpx._main'), 'rich' in sys.modules, httpx.Client is not None)")
    run = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["None", "False", "True"]


@pytest.mark.parametrize("module", ["kit.shop.service", "kit.shop.traffic", "kit.ownership.paging"])
def test_the_sandboxs_python_processes_load_no_data_science_stack(module):
    """Each of a learner's sandbox processes stays resident all day, per learner on a hub: pandas and numpy alone
    would add some 50 MB to each (the pager, reading on-call rotations, once did)."""
    probe = (f"import sys, {module}; "
             "print(*sorted(m for m in ('pandas', 'numpy', 'matplotlib', 'scipy') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == []
