"""kit.load: locust end to end, distributed mode, clean stop, open-model accuracy, coordinated omission, safety.

Runs against the shared ``live`` sandbox; tests that inject faults use ``clean_faults``
so that nothing is left behind (capacity is restored by clearing).
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading

import psutil
import pytest

from kit import load, procs
from kit.errors import InvalidInput
from kit.load.openmodel import Histogram
from kit.shop import faults

pytestmark = pytest.mark.quiet  # latency and throughput figures: measured with the CPU to themselves


def _locust_processes() -> list[psutil.Process]:
    """Load generators started by this test session (they inherit its state folder), whoever else runs some."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if not (any("locustfile.py" in part for part in cmd) or "kit.load.openmodel" in cmd):
            continue
        try:
            if proc.environ().get("KIT_STATE_DIR") == os.environ["KIT_STATE_DIR"]:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _csv_written(processes: list[psutil.Process]) -> bool:
    """Whether the locust among ``processes`` has written its first row of statistics: its run has begun."""
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            cmd = proc.cmdline()
            if "--csv" in cmd and os.path.exists(cmd[cmd.index("--csv") + 1] + "_stats_history.csv"):
                return True
    return False


# --------------------------------------------------------------------------- pure parts


def test_histogram_relative_error_is_bounded():
    hist = Histogram()
    values = [1, 7, 999, 2047, 2048, 3001, 65_537, 100_000, 1_234_567, 59_999_999]
    for value in values:
        low, high = Histogram.bounds(Histogram.index(value))
        assert low <= value <= high
        assert (high - low) <= max(1, value / 1000)
        hist.record(value)
    assert hist.total == len(values) and hist.max == 59_999_999 and hist.min == 1
    ladder = Histogram()
    for value in range(1, 100_001):
        ladder.record(value)
    for q in (50, 90, 99, 99.9):
        assert ladder.percentile(q) == pytest.approx(q * 1000, rel=1e-3)
    assert Histogram.from_json(ladder.to_json()).percentile(99) == ladder.percentile(99)


def test_step_and_ramp_become_locust_stages():
    assert load.stages(load.Step(users=5, seconds=2), 12, 5, 9) == [
        [2, 5, 5.0], [4, 10, 5.0], [9, 12, 5.0],
    ]
    assert load.stages(load.Ramp(), 10, 1, 20) == [[20, 10, 0.5]]


@pytest.mark.parametrize("call, field", [
    (lambda: load.run(0, 1, 5), "users"),
    (lambda: load.run(5, -1, 5), "spawn_rate"),
    (lambda: load.run(5, 5, 0), "duration"),
    (lambda: load.run(5, 5, 601), "duration"),
    (lambda: load.run(5, 5, 5, route="login"), "route"),
    (lambda: load.run(5, 5, 5, workers=-1), "workers"),
    (lambda: load.run(5, 5, 5, host="http://10.1.2.3:80"), "host"),
    (lambda: load.run(5, 5, 5, host="http://example.com"), "host"),
    (lambda: load.run(5, 5, 5, shape=load.Step(users=0, seconds=1)), "shape.users"),
    (lambda: load.open_model(-5, 5), "rate"),
    (lambda: load.open_model(50_000, 5), "rate"),
    (lambda: load.open_model(10, 0), "duration"),
    (lambda: load.open_model(10, 5, route="nope"), "route"),
    (lambda: load.open_model(10, 5, host="http://192.168.1.1:8080"), "host"),
])
def test_bad_input_is_refused_before_anything_starts(call, field):
    before = len(_locust_processes())
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.field == field
    assert len(_locust_processes()) == before


def test_loopback_targets_only_unless_allowed():
    assert load.validate_target("http://127.0.0.2:1234") == "http://127.0.0.2:1234"
    assert load.validate_target("http://[::1]:80") == "http://[::1]:80"
    assert load.validate_target("localhost:8080") == "http://localhost:8080"
    assert load.validate_target("http://10.0.0.5:80", allow_remote=True) == "http://10.0.0.5:80"


# --------------------------------------------------------------------------- locust


def test_locust_run_end_to_end(clean_faults):
    lines: list[str] = []
    result = load.run(10, 10, 4, wait=(0.05, 0.2), config=clean_faults, progress=lines.append)
    stats = result.stats
    assert {"/catalog", "/products/{product_id}", "/checkout", "Aggregated"} <= set(stats.index)
    for route in ("/catalog", "/products/{product_id}", "/checkout"):
        assert stats.loc[route, "requests"] > 0, stats
    assert stats.loc["Aggregated", "failures"] == 0, result.failures
    assert result.total.p50_ms >= 10 and result.total.rps > 0  # the routes' simulated service times are the floor
    assert result.outcome == "done" and result.exit_code == 0
    # every request got an answer; the last CSV snapshot may be written before the last few are counted
    assert result.answered >= stats.loc["Aggregated", "requests"]
    history = result.history  # locust adds a row a second (kit/load/locustfile.py) through the 4 s run
    assert len(history[history.route == "Aggregated"]) >= 2
    assert any("req/s" in line for line in lines) and lines[-1].startswith("locust done")
    assert not _locust_processes()


def test_master_and_two_local_workers(clean_faults):
    result = load.run(4, 4, 3, workers=2, route="catalog", wait=(0.05, 0.05), config=clean_faults)
    assert result.workers == 2 and result.outcome == "done"
    assert result.stats.loc["/catalog", "requests"] > 0
    assert result.stats.loc["Aggregated", "failures"] == 0
    assert result.answered >= result.stats.loc["Aggregated", "requests"], "every worker counts its answers"
    assert not _locust_processes()


def test_stop_event_ends_the_run_early(live):
    stop = threading.Event()

    def stop_once_requests_count(line: str) -> None:  # a progress line ends "failures F/REQUESTS"
        if "req/s" in line and not line.endswith("/0"):
            stop.set()

    result = load.run(3, 3, 60, route="health", wait=(0.1, 0.1), config=live, stop=stop,
                      progress=stop_once_requests_count)
    # "stopped", not "done": the run ended on the event, before its 60 s were up
    assert result.outcome == "stopped" and result.stats.loc["/health", "requests"] > 0
    assert not _locust_processes()


def test_ctrl_c_leaves_no_locust_process(live, tmp_path):
    script = textwrap.dedent(f"""
        from kit import load
        from kit.config import Config
        load.run(3, 3, 60, route="health", wait=(0.1, 0.1), config=Config.from_env(shop_port={live.shop_port}))
    """)
    # a runner started in the background ignores SIGINT, and children inherit that; a terminal's Ctrl-C does not
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        parent = psutil.Process(proc.pid)
        assert procs.wait_until(lambda: any("locust" in " ".join(c.cmdline()) for c in parent.children(True)), 60)
        children = parent.children(recursive=True)
        assert procs.wait_until(lambda: _csv_written(children), 60), "locust never started its run"
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal or a kernel interrupt delivers
        out, _ = proc.communicate(timeout=60)  # a generous bound: stopping locust is slow on a busy machine
    finally:
        if proc.poll() is None:
            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()  # a failed test must not leave locust behind for the next one
            proc.kill()
    assert b"KeyboardInterrupt" in out
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, f"left running: {alive}"
    assert not _locust_processes()


def _command(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:  # it has just exited, or is a zombie
        return []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name)
def test_kit_load_run_leaves_no_locust_process_whatever_stops_it(live, signum):
    env = {**os.environ, "KIT_SHOP_PORT": str(live.shop_port)}
    # Stop signals at their defaults, as for a shell's job, even in a test run started with nohup (an ignored SIGHUP
    # stays ignored, rightly).
    proc = subprocess.Popen([sys.executable, "-m", "kit.cli", "load", "run", "--users", "2", "--duration", "60",
                             "--route", "health"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    children: list[psutil.Process] = []
    try:
        parent = psutil.Process(proc.pid)

        def locust_runs() -> bool:  # locust itself, not the launcher that becomes it
            return any(_command(c)[1:3] == ["-m", "locust"] for c in parent.children(recursive=True))

        assert procs.wait_until(locust_runs, 60)
        children = parent.children(recursive=True)
        proc.send_signal(signum)  # a service manager, a closed terminal, a kernel killed on restart
        _, err = proc.communicate(timeout=60)
        left = procs.wait_stopped(children, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        for child in children:  # a failed test must not leave locust behind for the next one
            with contextlib.suppress(psutil.Error):
                child.kill()
    assert not left, f"left running after {signal.Signals(signum).name}: {left}"
    if signum != signal.SIGKILL:
        assert proc.returncode == 128 + signum and signal.Signals(signum).name in err.decode(), err
    assert not _locust_processes()


# --------------------------------------------------------------------------- open model


def test_open_model_measures_an_injected_latency(clean_faults):
    config = clean_faults
    faults.set_fault("capacity", slots=128, config=config)  # no queueing: the latency is the fault's alone
    baseline = load.open_model(300, 3, route="product", config=config)
    faults.set_fault("latency", ms=100, route="product", config=config)
    slowed = load.open_model(300, 3, route="product", config=config)
    for result in (baseline, slowed):
        assert result.sent == result.completed == 900
        assert result.errors == result.transport_errors == 0
    # Every slowed request slept the fault's 100 ms, measured from its intended start, so even the fastest
    # shows it; a busy machine only adds. How exactly the percentiles move by 100 ms, and how closely the
    # generator holds its rate, are benchmarks/load_generators.py's figures.
    assert slowed.histogram.min / 1000 >= 100 and slowed.p50_ms >= 100
    assert baseline.p50_ms > 0 and not _locust_processes()


def test_coordinated_omission_shows_the_gap(clean_faults):
    demo = load.coordinated_omission(config=clean_faults, duration=8, stall_ms=400, stall_every_s=4)
    table = demo.table
    closed, honest, truth = (table.loc[k] for k in ("closed loop (locust)", "open model", "expected"))
    assert truth.p99_ms > 400
    # The open model sees the stall: a tenth of its requests arrive during one (more when switching the fault
    # is slow) and each waits it out, so its p99 cannot fall below the stall. A locust user meets each stall
    # once, so the stall reaches its p99 only if a user sends fewer than 100 requests in a 4 s cycle: 40 ms a
    # request, four times the route's mean. How far each is from the truth is benchmarks/measured_vs_model.py's.
    assert honest.p99_ms >= truth.p99_ms - 30
    assert demo.gap_p99_ms > 0, table
    assert math.isclose(demo.stall_share, 0.1)
    assert faults.list_faults(clean_faults)["shop"] == {}
