"""Scenario files: every shipped drill is valid, and every broken one is refused naming its field."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kit.config import REPO_ROOT
from kit.drills import scenarios
from kit.drills.scenarios import GRADED_DRILLS, InvalidScenario

BAD = Path(__file__).parents[1] / "fixtures" / "drills" / "bad"


def test_the_kit_ships_eight_drills_of_different_shapes():
    shipped = scenarios.catalogue()
    assert len(shipped) >= 8
    assert len({s.diagnosis["mode"] for s in shipped}) >= 8, "each drill should fail in its own way"
    assert {s.expect_severity for s in shipped} == {"page", "ticket"}
    assert any(i.load_route for s in shipped for i in s.injects), "a noisy neighbour sends real load"


def test_a_scenario_is_found_by_name_or_path():
    by_name = scenarios.load("payments-down")
    by_path = scenarios.load(scenarios.DRILLS_DIR / "payments-down.yml")
    assert by_name == by_path
    assert by_name.injects[0].describe() == "fault payments_down"


def test_random_pick_is_one_of_the_shipped_drills():
    assert scenarios.pick_random(rng=random.Random(3)).id in scenarios.names()


def test_an_unknown_drill_lists_the_real_ones():
    with pytest.raises(InvalidScenario) as caught:
        scenarios.load("gremlins")
    assert "payments-down" in caught.value.problem


def test_settle_covers_the_longest_steady_state_window():
    assert scenarios.load("payments-down").settle == 120 + 60


@pytest.mark.parametrize("path", sorted(BAD.glob("*.yml")), ids=lambda p: p.stem)
def test_a_broken_scenario_names_its_field(path: Path):
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(InvalidScenario) as caught:
        scenarios.load(path)
    assert caught.value.field == expected, str(caught.value)
    assert caught.value.problem


def test_bad_yaml_is_reported_with_the_file(tmp_path: Path):
    broken = tmp_path / "broken.yml"
    broken.write_text("id: [unclosed\n")
    with pytest.raises(InvalidScenario) as caught:
        scenarios.load(broken)
    assert str(caught.value).startswith("broken.yml:2:1: not valid YAML: ")  # where, then the parser's short problem
    assert len(str(caught.value).splitlines()) == 1


def test_every_graded_drill_is_a_scenario_of_an_existing_lab():
    for lab, name in GRADED_DRILLS.items():
        assert (REPO_ROOT / "solutions" / lab).is_dir(), lab
        assert scenarios.load(name).id == name
