"""The DORA tier tables as data, and where a team's figures land in them."""

from __future__ import annotations

import pytest

from kit.errors import InvalidInput
from kit.releases import tiers

H, D = 3600.0, 86400.0


def test_every_table_names_its_source_and_only_known_keys():
    assert tiers.years() == [2021, 2024]
    for year in tiers.years():
        table = tiers.table(year)
        assert table.year == year and table.url.startswith("https://dora.dev/") and table.confirmed_from
        assert set(table.bands) | set(table.unconfirmed) <= set(tiers.KEYS)
        for bands in table.bands.values():
            assert [b.tier for b in bands] == ["elite", "high", "medium", "low"]
    assert tiers.table().year == 2024
    assert tiers.table(2024).unconfirmed == ("change_failure_rate", "recovery_time")


@pytest.mark.parametrize("key, value, year, tier, exact", [
    ("deployment_frequency", D / 3, 2021, "elite", True),  # three a day
    ("deployment_frequency", 3 * D, 2021, "high", False),  # twice a week: 2021 has no band between daily and weekly
    ("deployment_frequency", 3 * D, 2024, "high", True),
    ("deployment_frequency", 400 * D, 2024, "low", False),  # rarer than every band
    ("lead_time", 5 * H, 2021, "high", False),
    ("lead_time", 5 * H, 2024, "elite", True),
    ("lead_time", 10 * D, 2024, "medium", True),
    ("change_failure_rate", 0.10, 2021, "elite", True),
    ("change_failure_rate", 0.20, 2021, "high", True),  # 16-30 % is high, medium and low: the best of them
    ("change_failure_rate", 0.45, 2021, "low", False),
    ("recovery_time", 30 * 60, 2021, "elite", True),
    ("recovery_time", 3 * D, 2021, "medium", True),
])
def test_placement(key, value, year, tier, exact):
    placed = tiers.place_one(key, value, tiers.table(year))
    assert (placed.tier, placed.exact) == (tier, exact)


def test_a_figure_in_a_gap_says_which_bands_it_falls_between():
    placed = tiers.place_one("lead_time", 5 * H, tiers.table(2021))
    assert placed.why == "better than high's band, short of elite"


def test_keys_without_confirmed_levels_or_figures_get_no_tier():
    placed = {p.key: p for p in tiers.place({"lead_time": None, "change_failure_rate": 0.1}, tiers.table(2024))}
    assert (placed["change_failure_rate"].tier, placed["change_failure_rate"].why) == (None, "not confirmed for this year")
    assert (placed["lead_time"].tier, placed["lead_time"].why) == (None, "nothing to compute it from")


def test_unknown_years_and_bad_tables_are_refused():
    with pytest.raises(InvalidInput, match="no tier table for 2019; the kit has 2021, 2024"):
        tiers.table(2019)
    with pytest.raises(InvalidInput, match="url: is missing"):
        tiers.parse({"report": "x", "year": 2020, "page": "", "confirmed_from": "", "keys": {}}, "t.yaml")
    with pytest.raises(InvalidInput, match=r"t.yaml: keys.lead_time\[0\].to"):
        tiers.parse({"report": "x", "year": 2020, "url": "u", "page": "", "confirmed_from": "",
                     "keys": {"lead_time": [{"tier": "elite", "text": "soon", "to": "a while"}]}}, "t.yaml")
