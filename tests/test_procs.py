"""kit.procs: ports judged as servers bind them, waits that count a zombie as stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from kit import procs


def _time_wait(port: int) -> bool:
    return any(c.laddr and c.laddr.port == port and c.status == psutil.CONN_TIME_WAIT
               for c in psutil.net_connections(kind="tcp4"))


def _server_binds(port: int) -> bool:
    """Whether a real asyncio server (what uvicorn runs) can listen on the port now."""
    async def bind() -> None:
        server = await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", port)
        server.close()
        await server.wait_closed()

    try:
        asyncio.run(bind())
    except OSError:
        return False
    return True


def test_a_port_with_only_a_servers_time_wait_is_free():
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn, Go and tornado listen
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server closes first, so the TIME-WAIT is on the listening port
        client.close()
    assert _time_wait(port), "the test needs a connection in TIME-WAIT on the port"
    assert procs.port_problem("127.0.0.1", port) is None
    assert not procs.port_in_use("127.0.0.1", port)
    assert _server_binds(port), "the check said free: a real server must be able to listen there"


def test_a_port_the_kernel_still_holds_is_refused_and_says_nobody_listens():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        client_port = client.getsockname()[1]
        accepted, _ = listener.accept()
        client.close()  # a client without SO_REUSEADDR closes first: its port stays held for a minute
        accepted.close()
    assert _time_wait(client_port)
    assert not _server_binds(client_port), "the kernel lets servers use this port; the test proves nothing"
    problem = procs.port_problem("127.0.0.1", client_port)
    assert problem is not None and "no program listens" in problem and "TIME-WAIT" in problem


def test_a_listening_port_is_refused_as_another_programs():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert procs.port_problem("127.0.0.1", listener.getsockname()[1]) == "another program listens on it"


@pytest.fixture
def zombie_maker():
    """A parent that forks a child (leading its own process group) and never reaps it, like a slow init."""
    script = textwrap.dedent("""
        import os, signal, sys, time
        pid = os.fork()
        if pid == 0:
            os.setsid()
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
            while True:
                time.sleep(60)
        print(pid, flush=True)
        while True:
            time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    yield psutil.Process(child)
    parent.kill()
    parent.wait()
    with contextlib.suppress(ProcessLookupError):
        os.kill(child, signal.SIGKILL)


def test_a_zombie_counts_as_stopped(zombie_maker):
    child = zombie_maker
    record = procs.ProcessRecord("child", child.pid, child.create_time(), [], "")
    assert procs.alive(record)
    assert procs.stop(record, timeout=30) == "terminated", "the exited child was waited for until SIGKILL"
    assert child.status() == psutil.STATUS_ZOMBIE, "the test needs a child its parent has not reaped"
    assert not procs.alive(record)
    assert procs.wait_stopped([child], timeout=30) == []
    assert procs.stopped(child)


def _sleeper(*args: str) -> subprocess.Popen:
    """A process that ignores SIGTERM (so stopping it takes the SIGKILL) and names ``args``; started and ready."""
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    return proc


def test_stop_naming_stops_what_names_a_path_inside_the_folder_and_nothing_else(tmp_path):
    folder = tmp_path / "private"
    inside = _sleeper(str(folder / "kernel-1.json"))
    sibling = _sleeper(str(tmp_path / "private-other" / "kernel-2.json"))  # a name that only starts the same
    try:
        assert procs.stop_naming(folder, timeout=0.2) == [inside.pid]
        assert inside.wait(timeout=30) is not None  # it had to be killed: it ignores SIGTERM
        assert sibling.poll() is None
    finally:
        for proc in (inside, sibling):
            proc.kill()
            proc.wait()


def test_free_ports_stay_out_of_the_range_clients_take_their_source_ports_from():
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert all(procs.free_port() < low for _ in range(20))
    own = range(21000, 21100)
    assert all(procs.free_port(within=own) in own for _ in range(20))


def test_a_started_job_writes_its_log_and_reports_its_exit_code(tmp_path):
    code = "import sys; print('to stdout', flush=True); sys.exit('to stderr, then exit 1')"
    with procs.start([sys.executable, "-c", code], log=tmp_path / "logs" / "job.log") as job:
        assert job.wait(30) == 1
    assert job.tail().splitlines() == ["to stdout", "to stderr, then exit 1"]
    assert job.stop() == "not running"


def test_a_started_child_leads_its_own_group_and_stops_on_sigterm(tmp_path):
    code = "import time; print('ready', flush=True); time.sleep(60)"
    child = procs.start([sys.executable, "-c", code], log=tmp_path / "child.log")
    try:
        assert procs.wait_until(lambda: child.tail() == "ready", 30)
        assert os.getpgid(child.pid) == child.pid
        assert child.wait(0) is None
        assert child.stop(timeout=30) == "terminated"
        assert child.poll() == -signal.SIGTERM
    finally:
        child.stop()


def test_a_child_that_ignores_sigterm_is_killed_with_its_whole_group(tmp_path):
    # the child starts a grandchild in its group that also ignores SIGTERM; SIGKILL must take both
    code = textwrap.dedent("""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(grandchild.pid, flush=True)
        time.sleep(60)
    """)
    with procs.start([sys.executable, "-c", code], log=tmp_path / "child.log", tether=False) as child:
        assert procs.wait_until(lambda: child.tail().isdigit(), 30)
        grandchild = psutil.Process(int(child.tail()))
        assert child.stop(timeout=0.2) == "killed"
    assert procs.wait_stopped([grandchild], timeout=30) == []


def test_ports_drawn_together_are_distinct():
    narrow = range(22000, 22040)  # 30 draws from 40 ports: separate draws would repeat one almost surely
    ports = procs.free_ports(30, within=narrow)
    assert len(set(ports)) == 30 and set(ports) <= set(narrow)
