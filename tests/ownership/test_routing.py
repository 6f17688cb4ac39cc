"""kit.ownership.routing: one Alertmanager route and receiver per owning team, generated from the catalog, checked
and evaluated by the real amtool; the shipped sandbox/alertmanager.yml follows the shipped catalog."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kit import binaries, pager
from kit.cli import main
from kit.config import ALERTMANAGER_CONFIG, CONTENT, Config
from kit.errors import InvalidInput
from kit.ownership import catalog
from kit.ownership.routing import TeamRoute, apply, drift, stale, team_routes, write
from kit.promfiles import read_yaml, to_yaml
from kit.sandbox import render

SANDBOX_ALERTMANAGER = CONTENT.sandbox / ALERTMANAGER_CONFIG


def _group(name: str) -> dict:
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": name},
            "spec": {"type": "team", "children": []}}


def _component(name: str, owner: str, job: str | None) -> dict:
    annotations = {catalog.ANNOTATION_JOB: job} if job else {}
    return {"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"type": "service", "lifecycle": "production", "owner": owner}}


def _catalog(tmp_path: Path, *documents: dict) -> catalog.Catalog:
    (tmp_path / "catalog").mkdir(exist_ok=True)
    (tmp_path / "catalog" / "all.yaml").write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return catalog.load(tmp_path / "catalog")


@pytest.fixture
def teams(tmp_path) -> catalog.Catalog:
    """Two teams with jobs (one a regex-looking name), a team owning nothing, a team whose only component has no
    job annotation, and a component whose owner the catalog does not hold."""
    return _catalog(
        tmp_path,
        _group("shop-team"), _group("search-team"), _group("idle-team"), _group("docs-team"),
        _component("shop", "group:shop-team", "shop"), _component("payments", "shop-team", "payments"),
        _component("search", "group:search-team", "search.v2"), _component("docs", "group:docs-team", None),
        _component("orphan", "group:ghost", "orphan"),
    )


def _amtool_routes(config_file: Path, **labels: str) -> str:
    result = subprocess.run([str(binaries.path("amtool")), "config", "routes", "test", f"--config.file={config_file}",
                             *(f"{k}={v}" for k, v in labels.items())], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_one_route_per_team_that_owns_a_job(teams):
    assert team_routes(teams) == [TeamRoute("search-team", ("search.v2",), ("search",)),
                                  TeamRoute("shop-team", ("payments", "shop"), ("payments", "shop"))]
    assert TeamRoute("search-team", ("search.v2",), ()).matchers == (r'job=~"search\\.v2"',)


def test_the_generated_config_passes_amtool_and_routes_each_job_to_its_owner(teams, tmp_path):
    generated = apply(read_yaml(SANDBOX_ALERTMANAGER), team_routes(teams))
    assert [r["name"] for r in generated["receivers"]] == ["pager", "search-team", "shop-team"]
    assert all(r["webhook_configs"] == generated["receivers"][0]["webhook_configs"] for r in generated["receivers"])
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(to_yaml(generated))
    check = subprocess.run([str(binaries.path("amtool")), "check-config", str(config_file)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    expected = {"shop": "shop-team", "payments": "shop-team", "search.v2": "search-team",
                "searchXv2": "pager",  # the dot is a dot, not any character
                "docs": "pager", "orphan": "pager", "prometheus": "pager"}
    assert {job: _amtool_routes(config_file, alertname="Any", job=job) for job in expected} == expected
    # an SLO's burn-rate page carries its service and no job
    services = {"shop": "shop-team", "search": "search-team", "docs": "pager", "search.v2": "pager"}
    assert {s: _amtool_routes(config_file, alertname="Burn", service=s) for s in services} == services
    assert _amtool_routes(config_file, alertname="NoJobNoService") == "pager"


def test_a_job_two_teams_claim_and_a_team_named_like_the_default_receiver_are_refused(tmp_path):
    shared = _catalog(tmp_path, _group("a-team"), _group("b-team"), _component("one", "group:a-team", "shop"),
                      _component("two", "group:b-team", "shop"))
    with pytest.raises(InvalidInput, match="job shop is also the job of one, owned by a-team") as raised:
        team_routes(shared)
    assert raised.value.field == f"metadata.annotations.{catalog.ANNOTATION_JOB}" and "Component two" in str(raised.value)
    named_pager = _catalog(tmp_path, _group("pager"), _component("shop", "group:pager", "shop"))
    with pytest.raises(InvalidInput, match="group pager is named like the receiver"):
        apply(read_yaml(SANDBOX_ALERTMANAGER), team_routes(named_pager))


def test_the_shipped_alertmanager_config_follows_the_shipped_catalog():
    shipped = read_yaml(SANDBOX_ALERTMANAGER)
    assert drift(shipped, catalog.load()) == [], "run `kit catalog routes --write`"
    assert shipped["route"]["receiver"] == pager.UNOWNED_RECEIVER


def test_the_rendered_sandbox_pages_shop_team_for_shop_and_payments(tmp_path):
    out = render(Config.from_env({}, state_dir=str(tmp_path / "state")), tmp_path / "rendered")
    config_file = out / ALERTMANAGER_CONFIG
    assert _amtool_routes(config_file, alertname="CheckoutErrorRatioHigh", job="shop", severity="page") == "shop-team"
    assert _amtool_routes(config_file, alertname="ServiceDown", job="payments", severity="page") == "shop-team"
    assert _amtool_routes(config_file, alertname="ServiceDown", job="pager", severity="page") == "pager"
    assert _amtool_routes(config_file, alertname="ShopAvailabilityBudgetBurn", service="shop", slo="shop-availability",
                          severity="page") == "shop-team"


def test_drift_names_the_team_and_the_cli_rewrites_the_file_keeping_its_comments(teams, tmp_path, monkeypatch,
                                                                                capsys):
    sandbox = tmp_path / "sandbox"
    shutil.copytree(CONTENT.sandbox, sandbox)
    config_file = sandbox / ALERTMANAGER_CONFIG
    found = drift(read_yaml(config_file), teams, "alertmanager.yml")
    assert [(f.entity, f.field) for f in found] == [("receiver search-team", "route.routes")]
    assert "has no route for search-team" in found[0].problem and "kit catalog routes --write" in found[0].fix

    monkeypatch.setenv("KIT_SANDBOX_DIR", str(sandbox))
    folder = str(tmp_path / "catalog")
    assert main(["catalog", "routes", folder]) == 1
    assert "has no route for search-team" in capsys.readouterr().out
    assert main(["catalog", "routes", folder, "--write"]) == 0
    assert "routes rewritten" in capsys.readouterr().out
    assert config_file.read_text().startswith(SANDBOX_ALERTMANAGER.read_text().split("\nroute:")[0])
    assert main(["catalog", "routes", folder]) == 0
    assert write(config_file, teams) is False


def test_kit_up_checks_the_routes_it_renders_against_the_catalog(teams, tmp_path):
    shipped = Config.from_env({}, state_dir=str(tmp_path / "state"))
    assert stale(shipped) == []
    folder = tmp_path / "sandbox"
    shutil.copytree(CONTENT.sandbox, folder)
    moved = Config.from_env({}, state_dir=str(tmp_path / "state"), sandbox_dir=str(folder))
    found = stale(moved, teams)  # a catalog with a second team the shipped routes do not know
    assert [f.entity for f in found] == ["receiver search-team"]
    assert all(f.source == str(folder / ALERTMANAGER_CONFIG) and "kit catalog routes --write" in f.fix for f in found)
