"""kit.ownership.catalog: the shipped Backstage descriptors load and pass; every bad field is named with its file
and entity; references follow Backstage's defaults; completeness and the declared-vs-observed comparison say
what to fix; and the shop's calls to payments are seen in a live sandbox's Prometheus."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import httpx
import pytest
import yaml

from kit import polling
from kit.cli import main
from kit.config import CONTENT, Config
from kit.errors import InvalidInput
from kit.ownership.catalog import (
    ANNOTATION_JOB, Call, Catalog, Component, EntityRef, check, compare_dependencies, completeness, dangling_refs,
    load, observed_calls, parse_ref,
)
from kit.shop.model import ROUTES

SHOP = yaml.safe_load((CONTENT.catalog / "shop.yaml").read_text())


def _write(folder: Path, name: str, *documents: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def _with_shop(tmp_path: Path, change=None) -> Catalog:
    """The shipped catalog, with shop.yaml changed by ``change``; loaded with the repository as root."""
    folder = tmp_path / "catalog"
    for file in CONTENT.catalog.glob("*.yaml"):
        if file.name != "shop.yaml":
            (folder / file.name).parent.mkdir(parents=True, exist_ok=True)
            (folder / file.name).write_text(file.read_text())
    shop = copy.deepcopy(SHOP)
    if change:
        change(shop)
    _write(folder, "shop.yaml", shop)
    return load(folder, root=CONTENT.root)


def test_the_shipped_catalog_loads_and_has_nothing_to_fix():
    catalog = load()
    assert [c.name for c in catalog.components] == ["payments", "shop"]
    shop, payments = catalog.component("shop"), catalog.component("Payments")
    assert shop.depends_on == (EntityRef("Component", "default", "payments"),)
    assert (shop.prometheus_job, payments.prometheus_job) == ("shop", "payments")
    assert shop.slos == ("checkout-availability", "shop-availability", "catalog-latency")
    assert all((CONTENT.slos / f"{name}.yml").is_file() for name in shop.slos)
    assert shop.owner == payments.owner == EntityRef("Group", "default", "shop-team")
    team = catalog.get(shop.owner)
    assert team.type == "team" and team.children == () and len(team.members) == 8
    assert {u.ref for u in catalog.users} == set(team.members)
    assert all(u.member_of == (team.ref,) for u in catalog.users)
    assert check(catalog) == []
    assert catalog.root == CONTENT.root


@pytest.mark.parametrize("text, defaults, expected", [
    ("shop-team", {"default_kind": "Group"}, EntityRef("Group", "default", "shop-team")),
    ("user:amara", {"default_kind": "Group", "kinds": ("Group", "User")}, EntityRef("User", "default", "amara")),
    ("COMPONENT:payments", {}, EntityRef("Component", "default", "payments")),
    ("component:billing/payments", {}, EntityRef("Component", "billing", "payments")),
    ("team", {"default_kind": "Group", "default_namespace": "ops"}, EntityRef("Group", "ops", "team")),
])
def test_references_take_the_defaults_of_their_field(text, defaults, expected):
    ref = parse_ref(text, **defaults)
    assert ref == expected and ref.kind == expected.kind
    assert parse_ref(str(ref)) == ref  # the full form reads back as the same entity


def test_references_compare_without_case():
    assert parse_ref("Component:Default/Shop") == parse_ref("component:default/shop")
    assert len({parse_ref("component:shop"), parse_ref("Component:SHOP")}) == 1


@pytest.mark.parametrize("text, defaults, problem", [
    ("payments", {"kinds": ("Component", "Resource")}, "'payments' has no kind; write it as kind:name, the kind "
                                                       "component or resource (e.g. component:payments)"),
    ("component:shop", {"default_kind": "Group", "kinds": ("Group", "User")},
     "'component:shop' names a Component; this field takes a group or user"),
    ("component:", {}, "'component:': name '' must be"),
    ("component:a b", {}, "'component:a b': name 'a b' must be"),
    ("component:ns_x/a", {}, "'component:ns_x/a': namespace 'ns_x' must be"),
])
def test_a_malformed_reference_says_how_to_write_it(text, defaults, problem):
    with pytest.raises(InvalidInput) as caught:
        parse_ref(text, **defaults)
    assert caught.value.problem.startswith(problem)


def _drop(*path):
    def change(doc):
        for key in path[:-1]:
            doc = doc[key]
        del doc[path[-1]]
    return change


def _set(value, *path):
    def change(doc):
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value
    return change


@pytest.mark.parametrize("change, field, problem", [
    (_drop("spec", "owner"), "spec.owner", "is required (the owning team, e.g. group:shop-team)"),
    (_drop("spec", "lifecycle"), "spec.lifecycle", "is required"),
    (_drop("spec", "type"), "spec.type", "is required (e.g. service)"),
    (_set(["payments"], "spec", "dependsOn"), "spec.dependsOn[0]", "'payments' has no kind"),
    (_set("component:payments", "spec", "owner"), "spec.owner", "'component:payments' names a Component"),
    (_set([], "spec", "dependOn"), "spec.dependOn", "is not a known field; allowed here: type, lifecycle"),
    (_set("backstage.io/v1", "apiVersion"), "apiVersion", "input should be 'backstage.io/v1alpha1' or"),
    (_set(8080, "metadata", "annotations", ANNOTATION_JOB), f"metadata.annotations.{ANNOTATION_JOB}",
     "input should be a valid string"),
    (_set("Shop!", "metadata", "name"), "metadata.name", "'Shop!' must be letters and digits"),
    (_set([{"title": "no url"}], "metadata", "links"), "metadata.links[0].url", "is required"),
    (_set("payments", "spec", "system"), "spec.system", None),  # a plain name is a System ref: valid
])
def test_each_invalid_field_is_named_with_its_file_and_entity(tmp_path, change, field, problem):
    shop = copy.deepcopy(SHOP)
    change(shop)
    path = _write(tmp_path, "shop.yaml", shop)
    if problem is None:
        assert load(path).component("shop").system == EntityRef("System", "default", "payments")
        return
    name = shop["metadata"]["name"]
    with pytest.raises(InvalidInput) as caught:
        load(path)
    assert caught.value.source == f"{path}: Component {name}"
    assert caught.value.field == field
    assert caught.value.problem.startswith(problem)


def test_a_document_that_is_not_an_entity_is_named_by_its_place_in_the_file(tmp_path):
    team = yaml.safe_load_all((CONTENT.catalog / "shop-team.yaml").read_text())
    documents = list(team)
    documents[3]["kind"] = "Resource"
    path = _write(tmp_path, "team.yaml", *documents)
    with pytest.raises(InvalidInput, match=r"team\.yaml \(document 4\): kind: 'Resource' is not a kind this kit "
                                           r"reads; one of Component, API, System, Group, User"):
        load(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(InvalidInput, match="must be a mapping with apiVersion, kind, metadata and spec, got list"):
        load(path)


def test_the_same_entity_twice_names_both_files(tmp_path):
    _write(tmp_path, "a.yaml", SHOP)
    second = copy.deepcopy(SHOP)
    second["metadata"]["name"] = "SHOP"  # Backstage's names are unique without case
    _write(tmp_path, "b.yml", second)
    with pytest.raises(InvalidInput) as caught:
        load(tmp_path)
    assert caught.value.source.endswith("b.yml: Component SHOP")
    assert caught.value.problem.startswith("component:default/SHOP is defined twice, also in ")
    assert caught.value.problem.endswith("a.yaml")


def test_a_missing_or_empty_catalog_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="does not exist"):
        load(tmp_path / "nowhere")
    with pytest.raises(InvalidInput, match="holds no .yaml or .yml file"):
        load(tmp_path)


def test_dangling_references_name_the_field_and_the_missing_entity(tmp_path):
    catalog = _with_shop(tmp_path, lambda shop: shop["spec"].update(owner="checkout-team",
                                                                    dependsOn=["component:payments", "component:tax"]))
    found = dangling_refs(catalog)
    assert [(f.entity, f.field) for f in found] == [("component:default/shop", "spec.owner"),
                                                    ("component:default/shop", "spec.dependsOn[1]")]
    assert found[0].source.endswith("catalog/shop.yaml")
    assert str(found[0]).endswith(
        "catalog/shop.yaml: component:default/shop: spec.owner: names group:default/checkout-team, which the catalog "
        "does not define. Fix: add a Group checkout-team to the catalog, or correct spec.owner")
    assert found[1].problem == "names component:default/tax, which the catalog does not define"
    # check() reports the owner once, though completeness finds it too
    assert [f.field for f in check(catalog)] == ["spec.owner", "spec.dependsOn[1]"]


@pytest.mark.parametrize("change, field, fix", [
    (_drop("metadata", "description"), "metadata.description", "add one line saying what shop does"),
    (_set("user:amara", "spec", "owner"), "spec.owner", "set spec.owner to the group:NAME of the team"),
    (_set("prod", "spec", "lifecycle"), "spec.lifecycle", "use one of experimental, production, deprecated"),
    (_drop("spec", "system"), "spec.system", "set spec.system to the System it is part of (systems: online-store)"),
    (_set([], "metadata", "links"), "metadata.links", "add a link with type: runbook"),
    (_set([{"url": "runbooks/nope.md", "type": "runbook"}], "metadata", "links"), "metadata.links[0].url",
     "point it at a runbook file"),
    (_drop("metadata", "annotations", ANNOTATION_JOB), f"metadata.annotations.{ANNOTATION_JOB}",
     f"add the annotation {ANNOTATION_JOB}"),
])
def test_completeness_names_each_missing_field_with_its_fix(tmp_path, change, field, fix):
    catalog = _with_shop(tmp_path, change)
    found = completeness(catalog.component("shop"), catalog)
    assert [f.field for f in found] == [field]
    assert found[0].fix.startswith(fix)
    assert completeness(catalog.component("payments"), catalog) == []


def test_completeness_asks_for_the_dependencies_the_calls_show(tmp_path):
    catalog = _with_shop(tmp_path, _drop("spec", "dependsOn"))
    shop = catalog.component("shop")
    assert completeness(shop, catalog) == []
    found = completeness(shop, catalog, [Call("shop", "payments", 42.0)])
    assert [(f.field, f.fix) for f in found] == [("spec.dependsOn", "add component:payments to spec.dependsOn")]


def _catalog_of(*components: Component) -> Catalog:
    return Catalog(components)


def _component(name: str, job: str | None, *depends_on: str) -> Component:
    return Component(ref=EntityRef("Component", "default", name), source=f"{name}.yaml", type="service",
                     lifecycle="production", owner=EntityRef("Group", "default", "team"),
                     annotations={ANNOTATION_JOB: job} if job else {},
                     depends_on=tuple(parse_ref(d) for d in depends_on))


def test_declared_and_observed_dependencies_that_agree_give_nothing():
    catalog = _catalog_of(_component("shop", "shop", "component:payments"), _component("payments", "payments"))
    assert compare_dependencies(catalog, [Call("shop", "payments", 12.0)], "15m") == []


def test_a_call_nobody_declared_is_a_missing_declaration():
    catalog = _catalog_of(_component("shop", "shop"), _component("payments", "payments"))
    [found] = compare_dependencies(catalog, [Call("shop", "payments", 12.4)], "15m")
    assert str(found) == ("shop.yaml: component:default/shop: spec.dependsOn: calls component:default/payments "
                          "(12 calls over the last 15m) but does not declare it. Fix: add component:payments to "
                          "spec.dependsOn")


def test_a_declared_dependency_never_called_is_reported_with_its_index():
    catalog = _catalog_of(_component("shop", "shop", "resource:db", "component:payments"),
                          _component("payments", "payments"), _component("tax", None))
    [found] = compare_dependencies(catalog, [], "15m")
    assert (found.field, found.problem) == ("spec.dependsOn[1]", "declares component:default/payments but made no "
                                                                 "call to it over the last 15m")
    assert found.fix.startswith("remove it if shop no longer calls payments")
    # a resource, or a component without a job, cannot be observed: nothing to say about them
    catalog = _catalog_of(_component("shop", "shop", "component:tax"), _component("tax", None))
    assert compare_dependencies(catalog, []) == []


def test_calls_from_or_to_jobs_no_component_claims():
    catalog = _catalog_of(_component("shop", "shop"))
    found = compare_dependencies(catalog, [Call("shop", "ledger", 3.0), Call("batch", "shop", 1.0)])
    assert [(f.entity, f.field) for f in found] == [("component:default/shop", "spec.dependsOn"),
                                                    ("job batch", f"metadata.annotations.{ANNOTATION_JOB}")]
    assert found[0].fix == f"add a Component with {ANNOTATION_JOB}: ledger and list it in spec.dependsOn"
    assert found[1].problem == "job batch calls shop (shop_client_requests_total) but no component claims the job"


def test_the_cli_checks_and_shows_the_catalog(tmp_path, capsys):
    assert main(["catalog", "check"]) == 0
    assert capsys.readouterr().out.strip() == "12 entities, 2 components: 0 findings"
    assert main(["catalog", "show"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["component", "owner", "system", "lifecycle", "job", "depends", "on"]
    assert table[2].split() == ["shop", "group:default/shop-team", "online-store", "production", "shop",
                                "component:default/payments"]
    alone = _write(tmp_path / "catalog", "shop.yaml", SHOP)
    assert main(["catalog", "check", str(alone), "--root", str(CONTENT.root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[2] for line in out[:-1]] == ["spec.owner", "spec.system", "spec.dependsOn[0]"]
    assert out[-1] == "1 entity, 1 component: 3 findings"
    assert main(["catalog", "check", str(alone)]) == 1  # its runbook links lead nowhere from its own folder
    assert "metadata.links[0].url: runbooks/checkout-errors.md does not exist" in capsys.readouterr().out
    broken = copy.deepcopy(SHOP)
    del broken["spec"]["owner"]
    _write(tmp_path / "catalog", "shop.yaml", broken)
    assert main(["catalog", "check", str(alone)]) == 2
    assert capsys.readouterr().err.strip() == (f"kit catalog: {alone}: Component shop: spec.owner: is required "
                                               "(the owning team, e.g. group:shop-team)")


def _checkout(client: httpx.Client, shop: str) -> None:
    method, path, body = ROUTES["checkout"].request()
    client.request(method, shop + path, content=json.dumps(body), headers={"Content-Type": "application/json"})


def test_the_shops_calls_to_payments_are_observed_live(live: Config, capsys):
    with httpx.Client(timeout=5.0) as client:
        for _ in range(5):
            _checkout(client, live.url("shop"))
    calls: list[Call] = []

    def seen() -> bool:
        nonlocal calls
        calls = observed_calls("1m", config=live)
        return any(c.caller == "shop" and c.callee == "payments" for c in calls)

    polling.wait_for(seen, 30, 0.5, describe=lambda: f"no shop -> payments call in Prometheus; calls: {calls}")
    assert {(c.caller, c.callee) for c in calls} == {("shop", "payments")}
    assert compare_dependencies(load(), calls, "1m") == []
    assert main(["catalog", "check", "--live", "--window", "1m"]) == 0
    assert "calls seen over the last 1m: shop -> payments (" in capsys.readouterr().out
