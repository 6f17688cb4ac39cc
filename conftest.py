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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run each lab's solution notebook once, and start the longest work first.

    * A GradingMatrix class autogrades ``solutions/<lab>``'s answers and checks that every cell of that
      run is clean (``test_solution_runs_every_cell_cleanly``), which is what nbval checks too. When that
      test is selected, nbval's cells of the same notebook are deselected rather than run a second time.
      Run a notebook on its own (``pytest solutions/<lab>``) and nbval still runs it.
    * pytest-xdist hands out whole files (``--dist loadfile``) in collection order
      (``--no-loadscope-reorder``), so the longest files go first and no worker is left with one at the
      end while the others idle: files named ``test_*_slow.py``, then the grading matrices (minutes of
      notebooks run one after another; the later labs' longest), then the other files that use the live
      sandbox (or run notebooks), and last the quick ones that do not, to fill in at the end.
    """
    graded = {item.cls.LAB for item in items
              if getattr(getattr(item, "function", None), "runs_solution_notebook", False)}  # nbval cells: no .function
    duplicate = [item for item in items if _solution_notebook(item) in graded]
    if duplicate:
        config.hook.pytest_deselected(items=duplicate)
        dropped = set(map(id, duplicate))
        items[:] = [item for item in items if id(item) not in dropped]

    matrix_labs = {item.path: item.cls.LAB for item in items if isinstance(item, pytest.Function)
                   and item.cls is not None and any(base.__name__ == "GradingMatrix" for base in item.cls.__mro__)}
    first = sorted({item.path for item in items if item.path.name.endswith("_slow.py")})
    first += sorted(set(matrix_labs) - set(first), key=matrix_labs.get, reverse=True)
    order = {path: rank for rank, path in enumerate(first)}
    live = {item.path for item in items if "live" in getattr(item, "fixturenames", ("live",))}
    items.sort(key=lambda item: order.get(item.path, len(order) + (item.path not in live)))  # stable sort


def _solution_notebook(item: pytest.Item) -> str | None:
    """The lab whose solutions/<lab>/<lab>.ipynb this nbval cell belongs to, else None."""
    path = item.path
    if path.suffix == ".ipynb" and path.parent.parent.name == "solutions" and path.stem == path.parent.name:
        return path.stem
    return None
