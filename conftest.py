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
import sys
import tempfile

import pytest

# nbval imports nbformat, which imports jsonschema, which imports the optional rfc3987_syntax (when installed) to
# check the ``iri`` string format: it compiles a few dozen Earley grammars, about 1.4 s of CPU in every pytest
# process (the controller and each worker of both runs of `make test`). No notebook schema uses that format, and
# an ImportError only leaves the format unchecked, as kit.grading's autograder already runs. So the entry point
# is switched off (pyproject.toml) and the plugin loaded here, once the import is ruled out.
sys.modules.setdefault("rfc3987_syntax", None)
pytest_plugins = ("nbval.plugin",)

SPREAD = ("tests/drills/test_drill_scenarios.py", "tests/drills/test_drill_scenarios_slow.py",
          "tests/load/test_capacity.py", "tests/load/test_loadtest.py")
"""Files whose tests share no setup beyond the worker's sandbox, and whose long tests each take up to a minute
waiting: on alerts (a drill scenario each) or on load steps (a capacity search, a load test)."""


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadfile``, except that each test of a ``SPREAD`` file goes to whichever worker is free.

    Most files share expensive setup (a graded cohort, a month of history, services of their own) through
    module- or class-scoped fixtures that a worker builds once, so a worker takes a whole file. The spread
    files are long only because they hold several long, independent tests; on one worker they would be
    the last to finish.
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesAndSpreadTests(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if path in SPREAD else path

    return FilesAndSpreadTests(config, log)


WORKER_PORTS = range(20000, 26000)
"""The ports the test workers' sandboxes draw from: below those ``kit.procs.free_port`` draws from when a test
asks it for a port of its own (26000 up to the ephemeral range)."""


def worker_ports(worker: int, workers: int) -> range:
    """Worker ``worker``'s share of ``WORKER_PORTS`` when ``workers`` run (`make test WORKERS=N`): 1000 ports, or
    fewer when more than six workers must share them; never a port of another worker's share."""
    size = min(1000, len(WORKER_PORTS) // max(workers, 1))
    first = WORKER_PORTS.start + size * worker
    return range(first, first + size)


def pytest_configure(config: pytest.Config) -> None:
    from kit.config import PORTS, Config
    from kit.procs import free_port

    # Each pytest-xdist worker gets a sandbox of its own; a nested pytest run reuses its parent's.
    if getattr(config, "workerinput", None) is None and os.environ.get("KIT_TEST_SESSION"):
        return
    state = tempfile.mkdtemp(prefix="kit-test-")
    os.environ["KIT_TEST_SESSION"] = state
    os.environ["KIT_STATE_DIR"] = state
    os.environ["KIT_PROFILE"] = "lab"
    os.environ.pop("KIT_HOST", None)
    # The ports are bound only when the first test needs the sandbox, maybe minutes later: each worker draws
    # them from a range of its own so that no other worker can pick the same ones in the meantime.
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    own = worker_ports(worker, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    taken: set[int] = set()
    for var in (Config.__dataclass_fields__[setting].metadata["env"] for setting in PORTS):
        port = free_port(within=own)
        while port in taken:
            port = free_port(within=own)
        taken.add(port)
        os.environ[var] = str(port)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = os.environ.get("KIT_TEST_SESSION")
    if not state or os.environ.get("KIT_STATE_DIR") != state:
        return
    import time

    from kit import sandbox

    cpu, wall = _cpu_s(), time.monotonic()
    sandbox.down()
    shutil.rmtree(state, ignore_errors=True)
    if os.environ.get(CPU_LOG):
        _log_cpu(f"(the sandbox of {os.environ.get('PYTEST_XDIST_WORKER', 'the session')}, stopped at the end)",
                 _cpu_s() - cpu, time.monotonic() - wall)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run each lab's solution notebook once, and start the longest work first.

    * A GradingMatrix class autogrades ``solutions/<lab>``'s answers and checks that every cell of that
      run is clean (``test_solution_runs_every_cell_cleanly``), which is what nbval checks too. When that
      test is selected, nbval's cells of the same notebook are deselected rather than run a second time.
      Run a notebook on its own (``pytest solutions/<lab>``) and nbval still runs it.
    * pytest-xdist hands out work in collection order (``--no-loadscope-reorder``): a file at a time
      (see ``pytest_xdist_make_scheduler``), or a single test of a ``SPREAD`` file. The longest work goes
      first so that no worker is left with a long file at the end while the others idle: the spread tests, files
      named ``test_*_slow.py`` or marked ``long`` (a minute or more of tests, with the live sandbox or without:
      one left for the end would finish a minute after the others), then the grading matrices (minutes of notebooks run one after another; the
      later labs' longest), then the other files that use the live sandbox (or run notebooks), and last the
      quick ones that do not, to fill in at the end.
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
    first = sorted({item.path for item in items
                    if item.path.name.endswith("_slow.py") or item.get_closest_marker("long") is not None})
    first += sorted(set(matrix_labs) - set(first), key=matrix_labs.get, reverse=True)
    order = {path: rank for rank, path in enumerate(first)}
    live = {item.path for item in items if "live" in getattr(item, "fixturenames", ("live",))}

    def rank(item: pytest.Item) -> tuple[int, bool]:
        if item.nodeid.split("::", 1)[0] in SPREAD:  # the slow ones first, while no earlier fault's alert lingers
            # and of a spread file's tests those on the live sandbox (load steps, alerts) before its quick ones:
            # xdist hands each worker one unit, then tops it up to two, so the first units land on different
            # workers, while two long ones next to each other behind quick ones could queue on one worker
            return (-2 if item.path.name.endswith("_slow.py") else -1,
                    "live" not in getattr(item, "fixturenames", ()))
        return order.get(item.path, len(order) + (item.path not in live)), False

    items.sort(key=rank)  # stable: a file's tests keep their order


def _solution_notebook(item: pytest.Item) -> str | None:
    """The lab whose solutions/<lab>/<lab>.ipynb this nbval cell belongs to, else None."""
    path = item.path
    if path.suffix == ".ipynb" and path.parent.parent.name == "solutions" and path.stem == path.parent.name:
        return path.stem
    return None


CPU_LOG = "KIT_TEST_CPU_LOG"
"""A file to append each test's CPU time to, one JSON line each, when set (benchmarks/suite_time.py sets it)."""


def _cpu_s() -> float:
    """CPU seconds of this process and of the children it has waited for (sandboxes, kernels, `kit` commands)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _log_cpu(what: str, cpu_s: float, wall_s: float) -> None:
    import json

    with open(os.environ[CPU_LOG], "a") as log:  # one short line per write: appends from workers do not interleave
        log.write(json.dumps({"test": what, "cpu_s": round(cpu_s, 3), "wall_s": round(wall_s, 3)}) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """With KIT_TEST_CPU_LOG set, log the CPU a test cost, its fixtures' setup and teardown included: on two cores
    the suite's time is bounded by its CPU, so that is where it can be cut. A process counts once it has ended
    and been waited for, so the worker's own sandbox counts at the session's end (``pytest_unconfigure``)."""
    if not os.environ.get(CPU_LOG):
        yield
        return
    import time

    cpu, wall = _cpu_s(), time.monotonic()
    yield
    _log_cpu(item.nodeid, _cpu_s() - cpu, time.monotonic() - wall)


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After the last cell of a solutions notebook (nbval), put the worker's sandbox back where labs start.

    A lab may end mid-incident (lab 04's practice incident, rules that serve several cells): the next lab's
    first cell would undo that, but on this worker the next test may be no lab, and its alerts would fire there.
    """
    if item.path.suffix != ".ipynb" or (nextitem is not None and nextitem.path == item.path):
        return
    from kit import lab, sandbox

    if sandbox.is_up():
        lab.reset()
