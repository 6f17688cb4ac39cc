"""kit.lab_setup, every lab's first cell: on the live test sandbox, on one not started yet, and the lab table."""

from __future__ import annotations

import json
import platform
import re
import sys

import pytest
import tomllib

import kit
from kit import binaries, drills, grading, lab, procs, sandbox, slo
from kit.config import CONTENT, PORTS, REPO_ROOT, Config
from kit.errors import BinaryMissing, InvalidInput
from kit.lab import LABS, lab_setup
from kit.releases import flags
from kit.shop import faults

RULES = {"groups": [{"name": "lab04-payments", "rules": [
    {"record": "shop:requests:rate10s", "expr": 'sum(rate(http_requests_total{job="shop"}[10s]))'}]}]}


def _code(name: str) -> list[str]:
    cells = json.loads((REPO_ROOT / "solutions" / name / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]


def test_every_lab_is_known_and_its_first_code_cell_sets_it_up():
    assert set(LABS) == set(grading.list_labs())
    for name in LABS:
        first = _code(name)[0]
        assert f'kit.lab_setup("{name}")' in first, name
        assert not re.search(r"\bkit\.up\(|\bdrills\.running\(|\bremove_rules\(|\bclear_faults\(", first), name


def test_the_rules_a_lab_installs_are_the_ones_setup_removes():
    for name, needs in LABS.items():
        code = "\n".join(_code(name))
        installed = re.findall(r'install_rules\("([\w-]+)"', code)
        installed += re.findall(r'(?:rules_installed|slo\.install)\([^)]*\bname="([\w-]+)"', code)
        assert sorted(installed) == sorted(needs.rules), name


def test_an_unknown_lab_is_refused_with_the_labs_this_kit_knows():
    with pytest.raises(InvalidInput, match="newer kit") as caught:
        lab_setup("09-community-league")
    assert caught.value.field == "lab" and "07-safe-releases" in caught.value.problem


def test_a_python_older_than_the_project_allows_is_refused():
    required = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required == ">=" + ".".join(map(str, lab.MIN_PYTHON))
    assert lab._python_problem((3, 9, 18)).startswith("this kernel runs Python 3.9.18; the kit needs 3.10 or newer")
    assert lab._python_problem(tuple(sys.version_info[:3])) is None


def test_a_kit_newer_than_the_installed_one_is_a_warning_to_reinstall():
    from importlib.metadata import version

    assert lab._kit_warnings(version(lab.DISTRIBUTION)) == ()
    [warning] = lab._kit_warnings("99.0.0")
    assert "imports kit 99.0.0" in warning and "`pip install -e .`" in warning


def test_setup_reports_versions_and_the_sandbox_and_running_it_again_changes_nothing(clean_faults):
    live = clean_faults
    first = lab_setup("00-mob-and-sandbox", config=live, progress=lambda _: None)
    assert (first.lab, first.python, first.kit) == ("00-mob-and-sandbox", platform.python_version(), kit.__version__)
    assert set(first.tools) == set(binaries.TOOLS) and all(first.tools.values())
    assert first.sandbox.healthy and first.history is None and first.warnings == ()
    running = sandbox.pids(live)

    again = lab_setup("00-mob-and-sandbox", config=live, progress=lambda _: None)
    assert again.undone == () and sandbox.pids(live) == running, "nothing to undo, nothing restarted"
    text, page = str(again), again._repr_html_()
    assert text.startswith("lab 00-mob-and-sandbox: sandbox healthy (profile lab)\n"), text
    assert f"  python   {platform.python_version()}" in text and "nothing" in text
    assert "sandbox healthy" in page and "&lt;" not in page
    for name, url in again.sandbox.urls.items():
        assert f"{name}: {url}" in text and f"href='{url}'" in page and f">{name}</a>" in page


def test_setup_undoes_what_an_earlier_run_left_behind(clean_faults):
    live = clean_faults
    left = drills.start("memory-leak", config=live)  # a drill nobody ended
    sandbox.install_rules("lab04-runbooks", RULES, config=live)
    slo.install(slo.load_spec(CONTENT.slos / "catalog-latency.yml"), name="lab-slo-catalog-latency", config=live)
    flags.set_flag("new_checkout", True, config=live)
    done = lab_setup("04-runbooks", config=live, progress=lambda _: None)
    assert done.undone == (f"gave up drill {left.run}, still running from before",
                           "removed the rules lab04-runbooks of lab 04-runbooks",
                           "removed the rules lab-slo-catalog-latency of lab 07-safe-releases",
                           "turned the flag new_checkout off again, its default")
    assert not drills.running(live) and drills.result_of(left.run, live).outcome == "abandoned"
    assert not (live.paths.installed_rules / "lab04-runbooks.yml").exists()
    assert not (live.paths.installed_rules / "lab-slo-catalog-latency.yml").exists()
    assert done.sandbox.rules_loaded == sandbox.status(live).rules_loaded
    assert faults.flags_of("shop", live)["new_checkout"] == "off"

    faults.set_fault("capacity", slots=50, config=live)
    assert lab_setup("04-runbooks", config=live, progress=lambda _: None).undone == (
        "cleared the faults: shop capacity",)
    assert faults.list_faults(config=live) == {"shop": {}, "payments": {}}
    assert "undone   nothing" in str(lab_setup("04-runbooks", config=live, progress=lambda _: None))


def _fresh(tmp_path) -> Config:
    ports = dict(zip(PORTS, procs.free_ports(len(PORTS))))
    return Config.from_env({}, state_dir=str(tmp_path / "state"), **ports)


def test_setup_starts_a_sandbox_that_is_not_running(tmp_path):
    config = _fresh(tmp_path)
    assert not sandbox.status(config).running
    said: list[str] = []
    try:
        done = lab_setup("01-instrumentation", config=config, progress=said.append)
        assert done.sandbox.healthy and sandbox.status(config).healthy
        assert any(line.startswith("starting prometheus") for line in said), said
        assert done.undone == ()
    finally:
        sandbox.down(config)


def test_a_missing_tool_is_named_with_the_command_that_installs_it_and_nothing_starts(tmp_path, monkeypatch):
    config = _fresh(tmp_path)
    monkeypatch.setenv(binaries.TOOLS["prometheus"].env_var, str(tmp_path / "no-such-prometheus"))
    with pytest.raises(BinaryMissing, match="prometheus not found") as caught:
        lab_setup("00-mob-and-sandbox", config=config, progress=lambda _: None)
    assert " ".join(binaries.install_command()) in str(caught.value)
    assert not sandbox.status(config).running
