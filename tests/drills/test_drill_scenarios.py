"""The fast-burn scenarios end to end in the lab profile (the slow ones are in test_drill_scenarios_slow.py)."""

import pytest
from drill_e2e import rehearse_and_check


@pytest.mark.parametrize("name", ["payments-down", "payments-slow", "bad-deploy", "noisy-neighbour",
                                  "broken-metrics", "catalog-recommendations"])
def test_scenario_end_to_end(name, clean_faults):
    rehearse_and_check(name, clean_faults)
