"""`kit dora` in process: the table, --json, --backfill with its known answers, --plot, and one-line errors."""

from __future__ import annotations

import json

import pytest

from kit.cli import main
from kit.releases import deploylog, deployhistory, dora, incidents
from kit.config import Config


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path))
    return Config.from_env()


def test_an_empty_log_gives_no_keys_and_says_why(state, capsys):
    assert main(["dora", "--year", "2021"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["key", "value", "tier", "(2021)"]
    assert "nothing to compute it from" in out[1] and out[3].split()[:6] == ["change", "failure", "rate", "-", "(0", "of"]


def test_backfill_then_json_matches_the_deploy_log(state, capsys, tmp_path):
    chart = tmp_path / "dora.png"
    assert main(["dora", "--backfill", "--json", "--plot", str(chart)]) == 0
    shown = json.loads(capsys.readouterr().out)
    events = deploylog.read(config=state)
    assert shown["deployments"] == sum(e.kind == "deploy" for e in events) > 50
    assert shown["rework"] == sum(e.kind == "deploy" and e.fixes is not None for e in events)
    again = dora.compute(events, incidents.gather(state), shown["start"], shown["end"])
    assert shown["change_failure_rate"] == again.change_failure_rate and shown["failed"] == again.failed
    assert shown["tiers"]["deployment_frequency"]["tier"] == "elite" and shown["year"] == 2024
    assert shown["tiers"]["change_failure_rate"]["why"] == "not confirmed for this year"
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(["dora", "--backfill"]) == 1  # a log with events is not silently mixed with a backfill
    assert "pass --replace" in capsys.readouterr().err
    assert main(["dora", "--backfill", "--replace", "--seed", "7"]) == 0
    assert "(seed 7)" in capsys.readouterr().out


def test_a_damaged_log_is_one_line_naming_the_line_and_field(state, capsys):
    deployhistory.backfill(30, config=state)
    with open(state.paths.deploy_log, "a") as log:
        log.write(json.dumps({"kind": "deploy", "version": "9.9.9", "commit": "c", "commit_time": 1, "at": 2,
                              "actor": "me", "weight": 500}) + "\n")
    lines = state.paths.deploy_log.read_text().count("\n")
    assert main(["dora"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"kit dora: {state.paths.deploy_log}:{lines}: weight: a deploy needs the % of traffic it serves, "
        "more than 0 up to 100; got 500")
