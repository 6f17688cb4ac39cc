"""kit.grading.warmgrader: jobs forked from a warm process are the processes they stand in for, and die with it.

The jobs are tiny ``python -c`` programs and the preload a cheap import, so each test takes well under a
second; tests/grading/test_autograde.py grades real cohorts through the warm process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from kit import procs
from kit.grading.warmgrader import WarmChild, WarmGrader

REPO = Path(__file__).resolve().parents[2]

PROBE = textwrap.dedent("""
    import json, os, sys
    print("before", flush=True)
    print("to stderr", file=sys.stderr, flush=True)
    facts = {
        "argv": sys.argv, "orig_argv": sys.orig_argv, "cwd": os.getcwd(), "env": dict(os.environ),
        "leads_group": os.getpgid(0) == os.getpid(), "leads_session": os.getsid(0) == os.getpid(),
        "path0": sys.path[0], "main": __name__, "stdin": os.readlink("/proc/self/fd/0"),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
    }
    print(json.dumps(facts))
    sys.exit(int(sys.argv[1]))
""")


def warm_grader(tmp_path: Path, preload: str = "import json", **kwargs) -> WarmGrader:
    return WarmGrader(preload, env=dict(os.environ), cwd=tmp_path, log=tmp_path / "warm.log", **kwargs)


def gone(*pids: int) -> bool:
    """Every one of them has exited (a zombie has: its parent just has not read its status yet)."""
    def stopped(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True
    return all(stopped(pid) for pid in pids)


def test_a_forked_job_is_what_its_own_process_would_be(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    env = {**os.environ, "KIT_GRADING_TRACE": str(tmp_path / "trace")}
    argv = [sys.executable, "-c", PROBE, "3", "two words"]
    seen = {}
    with warm_grader(tmp_path) as warm:
        for how, start in (("own", procs.start), ("warm", warm.start)):
            log = tmp_path / f"{how}.log"
            log.write_text("earlier line\n")
            with start(argv, log=log, env=env, cwd=folder) as job:
                assert isinstance(job, WarmChild) == (how == "warm")
                assert job.wait(30) == 3
            lines = log.read_text().splitlines()
            assert lines[:3] == ["earlier line", "before", "to stderr"], lines
            seen[how] = json.loads(lines[3])
    assert seen["warm"] == seen["own"]
    assert seen["warm"]["argv"] == ["-c", "3", "two words"] and seen["warm"]["leads_group"]


def test_a_job_stopped_at_the_cap_takes_its_group_and_the_warm_process_goes_on(tmp_path):
    code = textwrap.dedent("""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(grandchild.pid, flush=True)
        time.sleep(60)
    """)
    log = tmp_path / "job.log"
    with warm_grader(tmp_path) as warm:
        with warm.start([sys.executable, "-c", code], log=log, env=dict(os.environ), cwd=tmp_path) as job:
            assert procs.wait_until(lambda: log.read_text().strip().isdigit(), 30)
            grandchild = int(log.read_text())
            assert job.wait(0.1) is None
            warm_pid = warm.pid
            assert job.stop(timeout=0.2) == "killed"
            assert job.wait(0) == -signal.SIGKILL
        assert procs.wait_until(lambda: gone(job.pid, grandchild), 30)
        with warm.start([sys.executable, "-c", "pass"], log=log, env=dict(os.environ), cwd=tmp_path) as job:
            assert job.wait(30) == 0
        assert warm.pid == warm_pid


def test_a_dead_warm_process_is_replaced_and_its_job_ends_with_it(tmp_path):
    log = tmp_path / "job.log"
    env = dict(os.environ)
    with warm_grader(tmp_path) as warm:
        with warm.start([sys.executable, "-c", "import time; time.sleep(60)"], log=log, env=env, cwd=tmp_path) as job:
            first = warm.pid
            os.kill(first, signal.SIGKILL)
            assert job.wait(30) == -signal.SIGTERM  # the kernel's signal to a child whose warm process died
        assert procs.wait_until(lambda: gone(first, job.pid), 30)
        with warm.start([sys.executable, "-c", "raise SystemExit(5)"], log=log, env=env, cwd=tmp_path) as job:
            assert isinstance(job, WarmChild) and job.wait(30) == 5
        second = warm.pid
        assert second not in (None, first)
        os.kill(second, signal.SIGKILL)
        assert procs.wait_until(lambda: gone(second), 30)
        with warm.start([sys.executable, "-c", "raise SystemExit(6)"], log=log, env=env, cwd=tmp_path) as job:
            assert isinstance(job, WarmChild) and job.wait(30) == 6
        assert warm.pid not in (None, first, second)


def test_a_warm_process_that_does_not_answer_is_stopped_and_the_job_runs_on_its_own(tmp_path):
    log = tmp_path / "job.log"
    with warm_grader(tmp_path, "import time; time.sleep(60)", patience=0.5) as warm:
        with warm.start([sys.executable, "-c", "print('alone'); raise SystemExit(4)"], log=log,
                        env=dict(os.environ), cwd=tmp_path) as job:
            assert not isinstance(job, WarmChild)
            assert job.wait(30) == 4
            assert warm.pid is None
            assert not [p for p in psutil.Process().children(recursive=True) if "warmserver.py" in " ".join(p.cmdline())]
    assert log.read_text() == "alone\n"


def test_nothing_is_left_after_the_cohort(tmp_path):
    with warm_grader(tmp_path) as warm:
        job = warm.start([sys.executable, "-c", "import time; time.sleep(60)"], log=tmp_path / "job.log",
                         env=dict(os.environ), cwd=tmp_path)
        pids = (warm.pid, job.pid)
    assert procs.wait_until(lambda: gone(*pids), 30)


PARENT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from kit.grading.warmgrader import WarmGrader
    folder = Path(sys.argv[1])
    warm = WarmGrader("import json", env=dict(os.environ), cwd=folder, log=folder / "warm.log")
    job = warm.start([sys.executable, "-c", "import time; time.sleep(60)"], log=folder / "job.log",
                     env=dict(os.environ), cwd=folder)
    print(warm.pid, job.pid, flush=True)
    time.sleep(60)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_warm_process_and_its_job_die_with_a_killed_kit(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and not gone(*pids)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    assert procs.wait_until(lambda: gone(*pids), 30)
