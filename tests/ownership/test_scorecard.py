"""The live scorecard: levels, the CLI, the HTML report in a real browser, and one mutation test per check.

Every mutation breaks exactly one thing the scorecard looks at, in the worker's live sandbox or in a copy of the
repository's content under tmp_path, and asserts that its check, and only its check, changes: it fails, with the
fix that names what to change. The sandbox is the session's ``live`` one; this module installs the shop's SLO
alerts into it for its duration (a rule file of its own), and every live mutation is undone by its fixture.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from kit import lab, polling, sandbox, slo
from kit.config import CONTENT, Config
from kit.errors import InvalidInput
from kit.ownership import scorecard as sc
from kit.ownership.scorecard import CHECKS, LEVELS, CheckResult, Scorecard, Sources
from kit.procs import free_port
from kit.releases import deploylog
from kit.shop import faults

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
"""When the tests judge: inside the shop team's rotation, with drills and rollbacks dated from it."""

SLO_RULES = "scorecard-slos"
EXTRA_RULES = "scorecard-unlinked-page"


def _content(root: Path, *, drill_days: float = 2, rollback_days: float = 3) -> Sources:
    """A copy of the content the checks read, a resolved drill about the shop and a rollback, under ``root``."""
    for folder in ("catalog", "oncall", "runbooks", "slos", "drills"):
        shutil.copytree(CONTENT.root / folder, root / folder)
    results = root / "drill-results.jsonl"
    ended = (NOW - timedelta(days=drill_days)).timestamp()
    results.write_text(json.dumps({"run": "20260228-1", "scenario": "bad-deploy", "outcome": "resolved",
                                   "started_at": ended - 900, "ended_at": ended}) + "\n")
    log = root / "deploy-log.jsonl"
    at = (NOW - timedelta(days=rollback_days)).timestamp()
    deploylog.append([deploylog.DeployEvent("deploy", "2.0.0", "c2", at - 7200, at - 600, "test", weight=10),
                      deploylog.DeployEvent("rollback", "2.0.0", "c2", at - 7200, at, "test", weight=0)], log)
    return Sources(root=root, drill_results=results, deploy_log=log)


def _shop(sources: Sources, config: Config) -> Scorecard:
    return sc.scorecard("shop", sources=sources, config=config, now=NOW)


@pytest.fixture(scope="module")
def ready(live: Config, tmp_path_factory):
    """The live sandbox with the shop's SLO alerts loaded, and the shop's scorecard on an intact copy of the
    content: every check green. It starts from the sandbox every lab starts from (``lab.reset``): a canary, a fault
    or a lab's rules an earlier test on this worker left would change what the checks see."""
    lab.reset(live)
    groups = [group for name in ("checkout-availability", "shop-availability", "catalog-latency")
              for group in slo.generate_rules(slo.load_spec(CONTENT.slos / f"{name}.yml"),
                                              time_scale=live.profile_spec.time_scale,
                                              profile=live.profile_spec)["groups"]]
    sandbox.install_rules(SLO_RULES, {"groups": groups}, config=live)
    try:
        sources = _content(tmp_path_factory.mktemp("intact"))
        # a fresh sandbox needs a few scrapes before the shop's calls to payments show as an increase
        baseline = polling.wait_for(lambda: (card := _shop(sources, live)) and not card.red and card, 30, 0.5, describe=lambda: f"baseline not green: {_shop(sources, live)}")
        yield baseline
    finally:
        sandbox.remove_rules(SLO_RULES, config=live)


@pytest.fixture
def content(tmp_path: Path) -> Sources:
    return _content(tmp_path)


def _only(before: Scorecard, after: Scorecard, check: str, fix: str) -> None:
    """``check`` failed with a fix saying ``fix``; every other check has its status of ``before``."""
    result = after.result(check)
    assert result.status == "failed", after
    assert fix in result.fix, result
    assert result.detail and "\n" not in result.fix and "\n" not in result.detail
    changed = {r.id: r.detail for r in after.results if r.id != check and r.status != before.result(r.id).status}
    assert not changed, changed


# ---- levels, results and output (no sandbox) ----------------------------------------------------------------------

def _card(failing: set[str], status: str = "failed") -> Scorecard:
    results = tuple(CheckResult(c.id, c.category, c.level, c.title, status if c.id in failing else "passed", "seen",
                                "do it" if c.id in failing else "") for c in CHECKS)
    return Scorecard("shop", "shop-team", NOW, 0.1, results)


@pytest.mark.parametrize(("failing", "level"), [
    (set(), 4), ({"rollback"}, 3), ({"budget-policy", "drill"}, 2), ({"page-routing"}, 1),
    ({"health-metric"}, 0), ({"catalog-entry", "slo-alerts"}, 0), ({"runbooks", "rollback"}, 1),
])
def test_a_level_needs_every_check_of_it_and_below(failing, level):
    card = _card(failing)
    assert card.level == level and card.level_name == ("none", *(lv.name for lv in LEVELS))[level]
    assert {r.id for r in card.next_fixes} == {c.id for c in CHECKS if c.id in failing and c.level == level + 1}


def test_an_error_is_never_a_pass():
    assert _card({"health-metric"}, status="error").level == 0


def test_every_check_has_a_category_and_a_level_and_every_level_has_checks():
    assert {c.category for c in CHECKS} == set(sc.CATEGORIES)
    assert {c.level for c in CHECKS} == {lv.number for lv in LEVELS}
    assert len({c.id for c in CHECKS}) == len(CHECKS)


def test_levels_are_named_or_numbered():
    assert [sc.level_number(text) for text in ("listed", "2", "Measured", "practised", "none")] == [1, 2, 3, 4, 0]
    with pytest.raises(InvalidInput, match="1 listed, 2 owned"):
        sc.level_number("gold")


def test_outputs_carry_every_check():
    card = _card({"drill"})
    frame = card.frame()
    assert list(frame.columns) == sc.COLUMNS and len(frame) == len(CHECKS)
    assert frame.set_index("check").loc["drill", "status"] == "failed"
    data = json.loads(sc.Report((card,)).as_json())
    assert data[0]["level"] == 3 and {c["id"]: c["fix"] for c in data[0]["checks"]}["drill"] == "do it"
    assert 'data-check="drill"' in card._repr_html_() and "FAILED" in str(card) and "Fix: do it" in str(card)


# ---- the mutations: one per check, each turning exactly that check red --------------------------------------------

def test_the_intact_sandbox_passes_every_check(ready):
    assert not ready.red
    assert ready.level >= 1 and ready.owner == "shop-team"


def test_catalog_entry_without_a_description(ready, live, content):
    path = content.root / "catalog" / "shop.yaml"
    entry = yaml.safe_load(path.read_text())
    del entry["metadata"]["description"]
    path.write_text(yaml.safe_dump(entry))
    _only(ready, _shop(content, live), "catalog-entry", "add one line saying what shop does")


def test_health_metric_of_a_target_prometheus_cannot_scrape(ready, live, content):
    with faults.injected_fault("broken_metrics", service="shop", config=live, mode="error"):
        after = polling.wait_for(lambda: (card := _shop(content, live)).result("health-metric").status == "failed"
                                 and card, 30, 0.5, describe="the shop's series never went stale")
        _only(ready, after, "health-metric", "get Prometheus scraping job shop again")
    polling.wait_for(lambda: _shop(content, live).result("health-metric").passed, 30, 0.5,
                     describe="the shop's metrics did not come back")


def test_rotation_with_a_gap(ready, live, content):
    path = content.root / "oncall" / "shop-team.ics"
    text = path.read_text()
    start = text.index("BEGIN:VEVENT\r\nUID:primary-amara") if "\r\n" in text else text.index(
        "BEGIN:VEVENT\nUID:primary-amara")
    end = text.index("END:VEVENT", start) + len("END:VEVENT") + 1
    path.write_text(text[:start] + text[end:].lstrip("\r\n"))
    after = _shop(content, live)
    _only(ready, after, "rotation", "")
    assert "coverage" in after.result("rotation").detail and "primary" in after.result("rotation").detail


@pytest.fixture
def routed_by_owner(live: Config):
    """The live Alertmanager routing the shop's and payments' pages to the receiver shop-team, as the owner's
    routing does; its own configuration comes back afterwards."""
    from kit.sandbox.control import reload

    path = live.paths.alertmanager_config
    original = path.read_text()

    def route(receiver_name: str) -> None:
        config = yaml.safe_load(original)
        team = dict(next(r for r in config["receivers"] if r["name"] == config["route"]["receiver"]))
        config["receivers"].append({**team, "name": receiver_name})
        config["route"]["routes"] = [{"receiver": receiver_name, "matchers": [matcher]}
                                     for matcher in ('job=~"shop|payments"', 'service=~"shop|payments"')]
        path.write_text(yaml.safe_dump(config))
        reload(live)

    try:
        yield route
    finally:
        path.write_text(original)
        reload(live)


def test_page_routing_to_a_receiver_not_named_after_the_owner(ready, live, content, routed_by_owner):
    routed_by_owner("shop-team")
    intact = polling.wait_for(lambda: (card := _shop(content, live)).result("page-routing").passed and card, 10, 0.2,
                              describe="Alertmanager never routed the shop's pages to shop-team")
    assert "reach shop-team" in intact.result("page-routing").detail
    routed_by_owner("shop-tema")
    after = polling.wait_for(lambda: (card := _shop(content, live)).result("page-routing").status == "failed"
                             and card, 10, 0.2, describe="Alertmanager never took the misnamed receiver")
    _only(intact, after, "page-routing", 'send alerts with job="shop" or service="shop" to a receiver named shop-team')
    assert "reach shop-tema, not shop-team" in after.result("page-routing").detail


@pytest.fixture
def unlinked_page(live: Config):
    rule = {"alert": "ShopCheckoutsStalled", "expr": 'sum(rate(http_requests_total{job="shop"}[1m])) < 0',
            "labels": {"severity": "page"}, "annotations": {"summary": "no runbook on purpose"}}
    sandbox.install_rules(EXTRA_RULES, {"groups": [{"name": EXTRA_RULES, "rules": [rule]}]}, config=live)
    yield
    sandbox.remove_rules(EXTRA_RULES, config=live)


def test_runbooks_a_page_without_a_runbook_url(ready, live, content, unlinked_page):
    after = _shop(content, live)
    _only(ready, after, "runbooks", "add annotations: runbook_url: runbooks/<file>.md to alert ShopCheckoutsStalled")


def test_runbooks_a_runbook_that_does_not_lint(ready, live, content):
    path = content.root / "runbooks" / "service-down.md"
    text = path.read_text()
    path.write_text(text[:text.index("## Mitigations")] + text[text.index("## ", text.index("## Mitigations") + 3):])
    after = _shop(content, live)
    _only(ready, after, "runbooks", "edit runbooks/service-down.md")
    assert "missing section '## Mitigations'" in after.result("runbooks").fix


@pytest.mark.parametrize(("depends_on", "fix"), [
    ([], "add component:payments to spec.dependsOn"),
    (["component:payments", "component:search"], "remove it if shop no longer calls search"),
])
def test_dependencies_declared_wrong(ready, live, content, depends_on, fix):
    path = content.root / "catalog" / "shop.yaml"
    entry = yaml.safe_load(path.read_text())
    entry["spec"]["dependsOn"] = depends_on
    search = {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
              "metadata": {"name": "search", "annotations": {"reliability-dojo/prometheus-job": "search"}},
              "spec": {"type": "service", "lifecycle": "experimental", "owner": "group:shop-team"}}
    path.write_text(yaml.safe_dump_all([entry, search]))
    _only(ready, _shop(content, live), "dependencies", fix)


def test_slo_alerts_unloaded(ready, live, content):
    before = live.paths.installed_rules / f"{SLO_RULES}.yml"
    kept = yaml.safe_load(before.read_text())
    sandbox.remove_rules(SLO_RULES, config=live)
    try:
        after = _shop(content, live)
    finally:
        sandbox.install_rules(SLO_RULES, kept, config=live)
    _only(ready, after, "slo-alerts", "`kit slo apply slos/checkout-availability.yml`")


@pytest.mark.parametrize(("mutate", "fix"), [
    (lambda text: text.replace("## Outage policy", "## Outages"), "write in '## Outage policy'"),
    (lambda text: text.replace("catalog-latency", "the catalog's latency"), "covers catalog-latency"),
])
def test_budget_policy_incomplete(ready, live, content, mutate, fix):
    path = content.root / "slos" / "shop-error-budget-policy.md"
    path.write_text(mutate(path.read_text()))
    _only(ready, _shop(content, live), "budget-policy", fix)


def test_budget_policy_missing(ready, live, content):
    after = _shop(replace(content, policy=content.root / "slos" / "nowhere.md"), live)
    _only(ready, after, "budget-policy", "write slos/nowhere.md")


def test_drill_too_long_ago(ready, live, tmp_path):
    _only(ready, _shop(_content(tmp_path, drill_days=40), live), "drill", "`kit drill start bad-deploy`")


def test_rollback_too_long_ago(ready, live, tmp_path):
    after = _shop(_content(tmp_path, rollback_days=31), live)
    _only(ready, after, "rollback", "`kit release rollback`")
    assert "the last on 2026-01-30" in after.result("rollback").detail


def test_checks_that_cannot_reach_prometheus_are_errors_not_passes(ready, live, content):
    after = _shop(content, replace(live, prometheus_port=free_port()))
    assert {r.id for r in after.results if r.status == "error"} == {"health-metric", "runbooks", "dependencies",
                                                                    "slo-alerts", "page-routing"}
    assert after.level == 0 and "kit up" in after.result("health-metric").fix
    assert all(r.status == ready.result(r.id).status for r in after.results if r.status != "error")


# ---- the CLI and the report ----------------------------------------------------------------------------------------

def test_cli_scores_every_service_and_requires_a_level(ready, live, tmp_path, capsys):
    from kit.cli import main

    report = tmp_path / "readiness.html"
    assert main(["readiness", "--json", "--html", str(report), "--require", "listed"]) == 1  # payments: level 0
    cards = {card["service"]: card for card in json.loads(capsys.readouterr().out)}
    assert set(cards) == {"shop", "payments"} and cards["payments"]["level"] == 0
    assert {c["id"]: c["status"] for c in cards["payments"]["checks"]}["health-metric"] == "failed"
    assert report.read_text().startswith("<!DOCTYPE html>")
    assert main(["readiness", "shop", "--require", "listed"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("shop (owner shop-team): level ") and "page-routing" in out
    with pytest.raises(SystemExit) as usage:
        main(["readiness", "shop", "payments"])
    assert usage.value.code == 2 and "one SERVICE at most" in capsys.readouterr().err
    assert main(["readiness", "nosuch"]) == 2
    assert "no component 'nosuch' in the catalog" in capsys.readouterr().err
    assert main(["readiness", "review", str(CONTENT.readiness / "shop-1.1.0.md")]) == 0


def test_html_report_in_a_real_browser(ready, tmp_path):
    import shutil as which

    from playwright.sync_api import sync_playwright

    from tests.jupyterpages import CHROMIUM_FLAGS

    failing = replace(ready, results=tuple(replace(r, status="failed", fix="load them: `kit slo apply x`")
                                           if r.id == "slo-alerts" else r for r in ready.results))
    path = tmp_path / "report.html"
    path.write_text(sc.Report((failing,)).html())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=which.which("chromium"), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                       else route.abort())  # self-contained: a request for anything else fails the test below
            requests = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri())
            row = page.locator('tr[data-check="slo-alerts"]')
            assert row.locator(".status").inner_text() == "failed"
            assert row.locator(".fix").inner_text() == "load them: `kit slo apply x`"
            assert page.locator("tr[data-check]").count() == len(CHECKS)
            assert page.locator('section[data-service="shop"] .level').inner_text().startswith(str(failing.level))
            colour = row.evaluate("row => getComputedStyle(row).backgroundColor")
            assert colour == "rgb(251, 227, 227)"  # the inline style applied: failed rows are red
            assert requests == [path.as_uri()]
        finally:
            browser.close()
