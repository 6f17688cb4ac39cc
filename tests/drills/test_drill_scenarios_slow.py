"""The scenarios whose alerts are designed to take longer: a slow leak, and a slow burn that raises a ticket."""

import pytest
from drill_e2e import rehearse_and_check

pytestmark = pytest.mark.calm  # a minute or more of waiting on alerts each, with little CPU: first, beside busy tests

@pytest.mark.parametrize("name", ["slow-burn", "memory-leak"])
def test_scenario_end_to_end(name, clean_faults):
    rehearse_and_check(name, clean_faults)
