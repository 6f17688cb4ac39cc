"""Test-session wiring shared by tests/ and the notebooks nbval runs in solutions/.

Ports and the state folder are chosen before collection and exported as KIT_*
variables, so every kernel nbval starts talks to the test sandbox, never to a
learner's own. Under pytest-xdist every worker has its own sandbox, so tests
that inject faults never disturb each other. Whoever starts the sandbox (a fixture or a notebook's
``kit.up()``), it is stopped when the session ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_PORTS = ("KIT_SHOP_PORT", "KIT_PAYMENTS_PORT", "KIT_PAGER_PORT", "KIT_PROMETHEUS_PORT", "KIT_ALERTMANAGER_PORT")


def pytest_configure(config: pytest.Config) -> None:
    from kit.procs import free_port

    # Each pytest-xdist worker gets a sandbox of its own; a nested pytest run reuses its parent's.
    if getattr(config, "workerinput", None) is None and os.environ.get("KIT_TEST_SESSION"):
        return
    state = tempfile.mkdtemp(prefix="kit-test-")
    os.environ["KIT_TEST_SESSION"] = state
    os.environ["KIT_STATE_DIR"] = state
    os.environ["KIT_PROFILE"] = "lab"
    os.environ.pop("KIT_HOST", None)
    taken: set[int] = set()
    for var in _PORTS:
        port = free_port()
        while port in taken:
            port = free_port()
        taken.add(port)
        os.environ[var] = str(port)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = os.environ.get("KIT_TEST_SESSION")
    if not state or os.environ.get("KIT_STATE_DIR") != state:
        return
    from kit import sandbox

    sandbox.down()
    shutil.rmtree(state, ignore_errors=True)
