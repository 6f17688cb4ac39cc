"""Lab 08's ownership folder, offline: the state it starts from, and saving that refuses what cannot be read."""

from __future__ import annotations

import pytest
import yaml

from kit.config import CONTENT, Config
from kit.errors import InvalidInput
from kit.ownership import catalog, oncall, review, workspace


@pytest.fixture
def ws(tmp_path) -> workspace.Workspace:
    return workspace.prepare(Config.from_env({}, state_dir=str(tmp_path / "state"), work_dir=str(tmp_path / "work")))


def test_it_starts_with_a_payments_stub_the_broken_rotation_no_policy_and_the_draft_review(ws, tmp_path):
    assert ws.root == tmp_path / "work" / workspace.LAB / workspace.FOLDER
    assert yaml.safe_load(ws.read("catalog/payments.yaml")) == {
        "apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "payments"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "group:shop-team"}}
    book = ws.catalog()
    assert {f.field for f in catalog.completeness(book.component("payments"), book)} == {
        "metadata.description", "spec.system", "metadata.links",
        f"metadata.annotations.{catalog.ANNOTATION_JOB}"}
    assert not catalog.completeness(book.component("shop"), book)
    assert ws.read("oncall/shop-team.ics") == (CONTENT.oncall / "examples" / "gaps-and-overload.ics").read_text()
    assert not ws.policy_file.exists() and (ws.root / "slos" / "checkout-availability.yml").is_file()
    assert not review.review(ws.review_file).ok
    assert (ws.root / "runbooks" / "service-down.md").is_file() and ws.sources.root == ws.root


def test_prepare_again_puts_back_what_the_learner_changed(ws, tmp_path):
    ws.write_policy("# policy\n")
    (ws.root / "catalog" / "extra.yaml").write_text("not: a catalog entry\n")
    again = workspace.prepare(Config.from_env({}, state_dir=str(tmp_path / "state"), work_dir=str(tmp_path / "work")))
    assert again == ws and not ws.policy_file.exists() and not (ws.root / "catalog" / "extra.yaml").exists()


def test_an_entry_that_does_not_load_is_refused_and_the_stub_stays(ws):
    stub = ws.read("catalog/payments.yaml")
    with pytest.raises(InvalidInput, match="spec.owner") as refused:
        ws.write_entry(stub.replace("  owner: group:shop-team\n", ""))
    assert "payments.yaml" in str(refused.value)
    with pytest.raises(InvalidInput, match="describes no Component 'payments'"):
        ws.write_entry(stub.replace("name: payments", "name: billing"))
    assert ws.read("catalog/payments.yaml") == stub
    whole = (CONTENT.catalog / "payments.yaml").read_text()
    assert not catalog.completeness(ws.write_entry(whole).component("payments"), ws.catalog())


def test_a_rotation_that_does_not_parse_is_refused_and_the_file_stays(ws):
    before = ws.read("oncall/shop-team.ics")
    with pytest.raises(InvalidInput, match="CATEGORIES"):
        ws.write_rotation(before.replace("CATEGORIES:PRIMARY", "CATEGORIES:ONCALL", 1))
    assert ws.read("oncall/shop-team.ics") == before
    repaired = (CONTENT.oncall / "shop-team.ics").read_text()
    assert ws.write_rotation(repaired).team == "shop-team" and oncall.check(ws.rotation()).ok


def test_a_review_without_front_matter_is_refused_and_the_draft_stays(ws):
    draft = ws.read(f"readiness/shop-{workspace.RELEASE}.md")
    with pytest.raises(InvalidInput, match="front matter"):
        ws.write_review("# just notes\n")
    assert ws.read(f"readiness/shop-{workspace.RELEASE}.md") == draft
    assert ws.write_review(draft).release_class.name == "gold"
    with pytest.raises(InvalidInput, match="empty"):
        ws.write_policy("  \n")


def test_the_stub_keeps_only_what_backstage_requires():
    assert workspace.stub((CONTENT.catalog / "shop.yaml").read_text()).splitlines()[-3:] == [
        "  type: service", "  lifecycle: production", "  owner: group:shop-team"]
    with pytest.raises(InvalidInput, match="one Component"):
        workspace.stub((CONTENT.catalog / "shop-team.yaml").read_text())
