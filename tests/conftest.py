from __future__ import annotations

import pytest

from kit import prom, sandbox
from kit.config import Config
from kit.shop import faults


@pytest.fixture(scope="session")
def live() -> Config:
    """The shared test sandbox (lab profile, free ports), started once per session."""
    config = Config.from_env()
    sandbox.up(config=config)
    return config


@pytest.fixture
def clean_faults(live: Config):
    """Tests that inject faults leave none behind for the next test, and start with no page firing or pending.

    Alertmanager notifies once per firing alert (then only every repeat_interval), so a test that waits for a
    new page would wait in vain while an earlier test's incident on this worker's sandbox has not resolved;
    and an alert an earlier test left pending would page in the middle of this one.
    """
    faults.clear_faults(config=live)
    prom.wait_for('absent(ALERTS{severity="page"})', timeout=120, config=live)
    yield live
    faults.clear_faults(config=live)
