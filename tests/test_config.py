import ast
import dataclasses
import json
import sys
from pathlib import Path

import httpx
import pytest

from kit import localhttp, pager, prom, sandbox
from kit.config import PROFILES, REPO_ROOT, Config, resolve
from kit.errors import InvalidInput, SandboxNotReady
from kit.shop import faults


def test_env_overrides_defaults_and_keywords_override_env():
    env = {"KIT_SHOP_PORT": "19999", "KIT_PROFILE": "realistic", "KIT_TRAFFIC_RPS": "2.5"}
    config = Config.from_env(env)
    assert (config.shop_port, config.profile, config.traffic_rps) == (19999, "realistic", 2.5)
    assert Config.from_env(env, profile="lab").profile == "lab"


@pytest.mark.parametrize("env,field", [
    ({"KIT_SHOP_PORT": "eighty"}, "KIT_SHOP_PORT"),
    ({"KIT_SHOP_PORT": "70000"}, "shop_port"),
    ({"KIT_PROFILE": "turbo"}, "profile"),
    ({"KIT_HOST": "0.0.0.0"}, "host"),
    ({"KIT_TRAFFIC_RPS": "-1"}, "traffic_rps"),
    ({"KIT_TRAFFIC_RPS": "nan"}, "traffic_rps"),
    ({"KIT_SHOP_QUEUE": "-1"}, "shop_queue"),
    ({"KIT_ALLOW_REMOTE": "maybe"}, "KIT_ALLOW_REMOTE"),  # a typo must not pass as "no"
])
def test_bad_settings_name_the_field(env, field):
    with pytest.raises(InvalidInput) as err:
        Config.from_env(env)
    assert err.value.field == field


def test_a_setting_out_of_its_limits_names_its_variable():
    with pytest.raises(InvalidInput) as err:
        Config.from_env({"KIT_SHOP_PORT": "70000"})
    assert err.value.problem.endswith("; set KIT_SHOP_PORT")
    with pytest.raises(InvalidInput) as err:
        Config(shop_slots="8")  # a setting given in code is of its declared type, not text to be read
    assert (err.value.field, err.value.problem.endswith("; set KIT_SHOP_SLOTS")) == ("shop_slots", True)


def test_every_setting_reads_back_from_its_environment():
    config = Config(profile="realistic", traffic_rps=0.5, allow_remote=True, host="0.0.0.0", shop_queue=0)
    assert Config.from_env(config.environment()) == config


def test_remote_bind_needs_explicit_flag():
    assert Config.from_env({"KIT_HOST": "0.0.0.0", "KIT_ALLOW_REMOTE": "1"}).host == "0.0.0.0"


def test_profiles_match_the_design():
    lab, real = PROFILES["lab"], PROFILES["realistic"]
    assert (lab.scrape_interval, lab.evaluation_interval, lab.group_wait) == ("1s", "1s", "1s")
    assert (real.scrape_interval, real.evaluation_interval, real.group_wait) == ("15s", "15s", "30s")


def test_every_setting_has_help_and_env_var():
    rows = Config().describe()
    assert all(env.startswith("KIT_") and help_text for _, env, _, help_text in rows)
    assert len({env for _, env, _, _ in rows}) == len(rows)


# ---------------------------------------------------------------- one owner for state and the sandbox's config


def _record_sandbox(tmp_path, monkeypatch) -> tuple[Config, Config]:
    """An environment, and a sandbox recorded in its state folder that was started with other ports and another
    state folder (the shell's KIT_* variables changed after `kit up`): (environment's config, recorded config)."""
    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path / "state"))
    for name, port in (("SHOP", 21080), ("PAYMENTS", 21081), ("PAGER", 21082), ("PROMETHEUS", 21090),
                       ("ALERTMANAGER", 21093)):
        monkeypatch.setenv(f"KIT_{name}_PORT", str(port))
    env = Config.from_env()
    recorded = env.with_(state_dir=str(tmp_path / "recorded"), shop_port=22080, payments_port=22081,
                         pager_port=22082, prometheus_port=22090, alertmanager_port=22093, shop_stable_port=22083)
    env.state.mkdir()
    saved = {**dataclasses.asdict(recorded), "setting_of_a_newer_kit": 1}
    env.paths.sandbox_record.write_text(json.dumps({"config": saved, "processes": {}, "companions": {}}))
    recorded.state.mkdir()
    recorded.paths.admin_token.write_text("token")
    return env, recorded


def test_resolve_prefers_a_given_config_then_the_recorded_sandbox_then_the_environment(tmp_path, monkeypatch):
    env, recorded = _record_sandbox(tmp_path, monkeypatch)
    assert resolve(None) == recorded  # the unknown setting a newer kit wrote is ignored
    assert resolve(env) == env
    assert sandbox.current_config is resolve
    env.paths.sandbox_record.write_text('{"config": {"shop_po')  # cut short by a crash
    assert resolve() == env
    env.paths.sandbox_record.write_text('["not", "a", "record"]')
    assert resolve() == env
    env.paths.sandbox_record.unlink()
    assert resolve() == env


def test_every_module_talks_to_the_recorded_sandbox(tmp_path, monkeypatch):
    """prom, faults and pager without a config reach the sandbox that runs, not the one the environment names."""
    _, recorded = _record_sandbox(tmp_path, monkeypatch)
    asked: list[str] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.scheme}://{request.url.host}:{request.url.port}")
        raise httpx.ConnectError("no sandbox in a unit test", request=request)

    monkeypatch.setattr(localhttp, "client", lambda: httpx.Client(transport=httpx.MockTransport(refuse)))
    with pytest.raises(SandboxNotReady):
        prom.query("up")
    with pytest.raises(SandboxNotReady):
        faults.list_faults()
    assert asked == [recorded.url("prometheus"), recorded.url("shop_stable")]  # the admin API of the process itself
    assert pager.notifications_file() == recorded.paths.notifications
    with pytest.raises(SandboxNotReady, match=str(recorded.paths.log("shop"))):
        sandbox.logs("shop")


def test_state_files_keep_their_names_on_disk(tmp_path):
    """Older state folders (a running sandbox, its pages, drill results) must keep working with a newer kit."""
    paths = Config(state_dir=str(tmp_path)).paths
    names = {
        paths.sandbox_record: "sandbox.json", paths.lock: ".lock", paths.admin_token: "admin-token",
        paths.secret_drill: "secret-drill", paths.rendered: "rendered", paths.log("shop"): "logs/shop.log",
        paths.alertmanager_data: "alertmanager-data", paths.prometheus_data: "prometheus-data",
        paths.installed_rules: "installed-rules", paths.notifications: "pages.jsonl", paths.drills: "drills",
        paths.active_drill: "drills/active.json", paths.drill_lock: "drills/.lock",
        paths.drill_end_lock: "drills/.end.lock", paths.drill_runs: "drills/runs", paths.drill_run("r1"): "drills/runs/r1",
        paths.drill_scenario("r1"): "drills/runs/r1/scenario.yml", paths.drill_timeline("r1"): "drills/runs/r1/timeline.jsonl",
        paths.drill_watcher_log("r1"): "drills/runs/r1/watcher.log",
        paths.drill_postmortem("r1"): "drills/runs/r1/postmortem.md", paths.drill_results: "drills/results.jsonl",
        paths.neighbour: "drills/neighbour.json", paths.neighbour_result: "drills/neighbour-result.json",
        paths.neighbour_log: "drills/neighbour.log", paths.history_marker: "history.json",
        paths.history_work: "history-work", paths.runbook_drafts: "runbook-drafts",
        paths.runbook_notebooks: "runbooks", paths.jupyter("learner"): "jupyter/learner",
        paths.mob_session: "mob.json", paths.work: "work",
    }
    assert {path.relative_to(tmp_path).as_posix(): name for path, name in names.items()} == \
        {name: name for name in names.values()}
    config = Config(state_dir=str(tmp_path))
    assert (config.token_file, config.secret_drill_file, config.work) == \
        (tmp_path / "admin-token", tmp_path / "secret-drill", tmp_path / "work")


def _hand_built(path: Path) -> list[str]:
    """``file:line`` of each path this module joins onto a state folder (``x.state / ...``,
    ``Path(x.state_dir)``) or onto the repository root (``REPO_ROOT / ...``) itself."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left = node.left
            if (isinstance(left, ast.Attribute) and left.attr in ("state", "state_dir")) or \
                    (isinstance(left, ast.Name) and left.id == "REPO_ROOT"):
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Path" \
                and any(isinstance(a, ast.Attribute) and a.attr == "state_dir" for a in node.args):
            found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    return found


def test_only_kit_config_builds_state_and_content_paths():
    found = [hit for path in sorted((REPO_ROOT / "kit").rglob("*.py")) if path.name != "config.py"
             for hit in _hand_built(path)]
    assert not found, "paths built by hand (name them in kit.config's StatePaths or ContentPaths):\n" + \
        "\n".join(found)


def test_the_hand_built_path_check_sees_each_way(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    sample = tmp_path / "sample.py"
    sample.write_text("a = config.state / 'x'\nb = Path(c.state_dir)\nc = REPO_ROOT / 'slos'\n"
                      "d = config.paths.notifications\ne = config.state.mkdir()\n")
    assert _hand_built(sample) == ["sample.py:1", "sample.py:2", "sample.py:3"]
