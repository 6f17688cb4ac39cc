"""`kit check` runs the notebook in a private sandbox: the learner's own sandbox, drill, pages and results are
left alone, and nothing of the private one is left running, whether the learner's sandbox was up or not.

The fixture lab (tests/fixtures/grading-sandbox/solutions/98-pager) does in seconds what labs 00 and 06 do to a
sandbox: it starts one, gives up a drill it finds running, injects a fault and waits for the page.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import httpx
import psutil
import pytest

from kit import drills, pager, procs, sandbox
from kit.config import PORTS, Config
from kit.grading import build_labs, check, make_submission, solution_answers
from kit.shop import faults

FIXTURE = Path(__file__).parents[1] / "fixtures" / "grading-sandbox"
LAB = "98-pager"
DRILL = "broken-metrics"  # installs no rules, so it starts and ends quickly; it pages while the check runs


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    shutil.copytree(FIXTURE / "solutions", root / "solutions")
    build_labs(root=root)
    return root


@pytest.fixture
def learners_copy(repo, tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    return make_submission(LAB, solution_answers(LAB, root=repo), tmp_path / LAB / f"{LAB}.ipynb", root=repo)


def private_ports(lines: list[str]) -> dict[str, int]:
    """The private sandbox's ports, as the check announced them."""
    announced = next(line for line in lines if line.startswith("starting a private sandbox"))
    ports = dict((name, int(port)) for name, port in re.findall(r"(\w+) (\d+)", announced.split(" on ports ")[1]))
    assert set(ports) == set(sandbox.HOST_PORTS), announced
    return ports


def still_running(ports: dict[str, int]) -> list[str]:
    """Processes of the private sandbox: listening on one of its ports, naming one, or (a kernel, a process a
    notebook started) configured for it."""
    own = {str(p) for p in ports.values()}
    named = re.compile(r"(?::|--port )(\d+)\b")
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        environ = proc.info["environ"] or {}
        if own & set(named.findall(cmdline)) or environ.get("KIT_SHOP_PORT") in own:
            found.append(f"{proc.info['pid']}: {cmdline}")
    found += [f"port {port} is taken: {problem}" for port in ports.values()
              if (problem := procs.port_problem("127.0.0.1", port))]
    return found


def senders(config: Config) -> set[str]:
    """The URLs of every Alertmanager (``externalURL``) and Prometheus (an alert's ``generatorURL``) that
    notified this sandbox's pager: a page's own record of where it came from, whatever its alert is called."""
    found = set()
    for line in pager.notifications_file(config).read_text(encoding="utf-8").splitlines():
        notification = json.loads(line)["notification"]
        found.add(notification.get("externalURL", ""))
        found |= {alert.get("generatorURL", "") for alert in notification.get("alerts", [])}
    return found


def rules(config: Config) -> list[str]:
    groups = httpx.get(f"{config.url('prometheus')}/api/v1/rules", timeout=5).json()["data"]["groups"]
    return sorted(f"{g['file']}:{r['name']}" for g in groups for r in g["rules"])


def snapshot(config: Config) -> dict:
    """What a check could change in a sandbox with a drill running."""
    drill = drills.status(config)
    return {
        "pids": sandbox.pids(config),
        "notifications": pager.notifications(config).to_dict("records"),
        "faults": faults.list_faults(config=config),
        "drill": (drill.run, [event.kind for event in drill.events]),
        "results": drills.results(config).to_json(orient="records"),  # as text: NaN (no TTA yet) != NaN
        "rules": rules(config),
    }


def test_a_check_leaves_the_learners_sandbox_drill_pages_and_results_alone(live, repo, learners_copy):
    faults.clear_faults(config=live)
    scenario = drills.start(DRILL, config=live).scenario  # a mob's drill: the lab gives up a drill it finds running
    lines: list[str] = []
    try:
        before = snapshot(live)
        report = check(learners_copy, root=repo, progress=lines.append)
        after = snapshot(live)
    finally:
        drills.end(abandon=True, config=live)
    assert report.passed, f"{report}\n" + "\n".join(lines)
    assert not still_running(private_ports(lines))
    assert lines[0].startswith("starting a private sandbox for the check on ports shop "), lines
    assert "the sandbox you work in, its drills, pages and results are left alone" in lines[0]
    assert lines[-2] == "stopping the private sandbox" and lines[-1].startswith("private sandbox stopped"), lines
    # it checks the file, not the screen: a mob with unsaved answers is told to save first
    assert any(re.match(rf"running {LAB}\.ipynb as saved \d+ s ago \(save it first", line) for line in lines), lines

    for unchanged in ("pids", "results", "rules"):
        assert after[unchanged] == before[unchanged], unchanged
    # The drill goes on meanwhile (its next inject, its page): only the drill may have changed anything else.
    run, events = after["drill"]
    assert run == before["drill"][0] and events[:len(before["drill"][1])] == before["drill"][1]
    assert not {"abandoned", "resolved", "ended"} & set(events), events
    assert after["notifications"][:len(before["notifications"])] == before["notifications"]
    private = private_ports(lines)
    leaked = {url for url in senders(live)
              if re.search(rf":({private['prometheus']}|{private['alertmanager']})(/|$)", url)}
    assert not leaked, f"the check's notifications reached the learner's pager: {leaked}"
    drill_faults = {inject.fault for inject in scenario.injects if inject.fault}
    assert set(after["faults"]["shop"]) <= drill_faults and after["faults"]["payments"] == {}, after["faults"]


def test_a_check_with_no_sandbox_running_starts_none_and_leaves_nothing_running(repo, learners_copy, tmp_path,
                                                                               monkeypatch):
    ports = dict(zip(PORTS, procs.free_ports(len(PORTS))))
    learner = Config(state_dir=str(tmp_path / "state"), **ports)
    for var, value in learner.environment().items():
        monkeypatch.setenv(var, value)
    lines: list[str] = []
    report = check(learners_copy, root=repo, progress=lines.append)
    assert report.passed, f"{report}\n" + "\n".join(lines)
    assert not learner.state.exists(), "the check wrote into the learner's state folder"
    assert not still_running(private_ports(lines)) and not still_running(ports)
