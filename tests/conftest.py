from __future__ import annotations

import pytest

from kit import lab, prom, sandbox
from kit.config import Config
from kit.errors import CheckFailed
from kit.shop import faults


@pytest.fixture(scope="session")
def live() -> Config:
    """The shared test sandbox (lab profile, free ports), started once per session.

    Tethered to this worker: a run stopped hard (Ctrl-C twice, a CI timeout, SIGKILL), which skips the session's
    own `kit down`, still stops the worker's sandbox with it rather than leave it serving traffic on the host.
    """
    config = Config.from_env()
    sandbox.up(config=config, tether=True)
    return config


@pytest.fixture
def clean_faults(live: Config):
    """Tests that inject faults leave none behind for the next test, and start with no page firing or pending.

    Each starts from the sandbox every lab starts from (``kit.lab.reset``: no drill, no lab's rules, no fault,
    flags at their defaults), whatever an earlier test or a graded notebook left. Alertmanager notifies once per
    firing alert (then only every repeat_interval), so a test that waits for a new page would wait in vain while
    an earlier test's incident on this worker's sandbox has not resolved; and an alert an earlier test left
    pending would page in the middle of this one.
    """
    lab.reset(live)
    try:
        prom.wait_for_no_alerts(severity="page", timeout=120, config=live)
    except CheckFailed as error:
        rules = sorted(path.stem for path in live.paths.installed_rules.glob("*.yml"))
        raise CheckFailed(f"an earlier test left page alerts that did not resolve: {error}; "
                          f"rule files installed: {', '.join(rules) or 'none'}") from None
    yield live
    faults.clear_faults(config=live)
