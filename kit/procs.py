"""One helper for child processes: argv lists, own process group, logs, pid records, stops.

``spawn`` starts a process that outlives its caller (the sandbox's services) and
returns a record to save; ``start`` one the caller waits for and stops (a promtool
job, locust, JupyterLab). Records carry the process's start time so a stale pid
file (a pid reused by an unrelated program after a reboot or a crash) is never
mistaken for ours.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from .polling import wait_until  # the kit's one wait; kept importable from here, where it used to live


@dataclass(frozen=True)
class ProcessRecord:
    name: str
    pid: int
    create_time: float
    argv: list[str]
    log: str
    port: int | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ProcessRecord":
        return cls(**data)


def spawn(name: str, argv: list[str], log: Path, *, port: int | None = None, env: dict | None = None,
          cwd: Path | None = None, tether: bool = False) -> ProcessRecord:
    """Start ``argv`` detached in its own session so it outlives the caller (shell or kernel).

    ``tether=True`` makes it die with the caller instead (see ``tethered``).
    """
    proc = _launch(argv, log, env=env, cwd=cwd, tether=tether)
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        created = 0.0
    return ProcessRecord(name, proc.pid, created, list(argv), str(log), port)


def _launch(argv: list[str], log: Path | None, *, env: dict | None, cwd: Path | None, tether: bool,
            pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """``argv`` leading a new session (so its own process group), reading nothing, writing to ``log`` if given;
    of this process's other files it inherits only ``pass_fds``."""
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") if log is not None else contextlib.nullcontext() as out:
        return subprocess.Popen(
            tethered(argv) if tether else argv, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT if out is not None else None, start_new_session=True, env=env, cwd=cwd,
            close_fds=True, pass_fds=pass_fds,
        )


@dataclass(frozen=True)
class Child:
    """A child process this process waits for (see ``start``); a ``with`` block stops it on the way out."""

    argv: list[str]
    log: Path | None
    popen: subprocess.Popen = field(repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def poll(self) -> int | None:
        """Its exit code, or None while it runs."""
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until it exits, at most ``timeout`` seconds (None: however long); its exit code, or None if it runs on."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def tail(self, lines: int = 15) -> str:
        """The last lines of its log; "" when its output went to the terminal."""
        return log_tail(self.log, lines) if self.log is not None else ""

    def stop(self, timeout: float = 3.0) -> str:
        """SIGTERM to the child, up to ``timeout`` seconds for it to exit, then SIGKILL to its whole process group.

        SIGTERM goes to the child alone because a program with children of its own (JupyterLab and its
        kernels) shuts them down in order on it; SIGKILL leaves no time for that, so it takes them all.
        Returns how it ended: "not running", "terminated" or "killed".
        """
        if self.popen.poll() is not None:
            return "not running"
        self.popen.terminate()
        if self.wait(timeout) is not None:
            return "terminated"
        _signal(self.pid, signal.SIGKILL, True)
        self.popen.wait()
        return "killed"

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(argv: list[str], *, log: Path | None, env: dict | None = None, cwd: Path | None = None,
          tether: bool = True, pass_fds: tuple[int, ...] = ()) -> Child:
    """Start ``argv`` as a child this process waits for and stops: a job (promtool, nbgrader) or a foreground server.

    It leads its own process group, so a terminal's Ctrl-C reaches this process alone, which stops it with
    ``Child.stop`` in a ``finally`` (or a ``with`` block): terminate, wait, kill. Its output is appended to
    ``log`` (stdout and stderr together); with ``log=None`` it goes to this process's terminal, for a program
    whose output a person reads (JupyterLab prints the address to open). Tethered unless ``tether=False``
    (see ``tethered``), so it dies with this process even when no ``finally`` runs. A process that must
    outlive this one is started with ``spawn`` instead. ``pass_fds``: this process's files it inherits under the
    same numbers (a socket to talk to it over), all others being closed.
    """
    return Child(list(argv), log, _launch(argv, log, env=env, cwd=cwd, tether=tether, pass_fds=pass_fds))


def tethered(argv: list[str]) -> list[str]:
    """``argv`` run so that it gets SIGTERM when the calling thread's process dies, even by SIGKILL (Linux).

    Start the result from the thread that stays alive as long as the child should:
    the kernel ties the child to the thread that forked it. See ``kit.tether``.
    """
    return [sys.executable, "-S", str(Path(__file__).with_name("tether.py")), str(os.getpid()), *argv]


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def alive(record: ProcessRecord) -> bool:
    """True when the pid still belongs to the process we started and it has not exited."""
    try:
        proc = psutil.Process(record.pid)
        if abs(proc.create_time() - record.create_time) > 0.05:
            return False
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(record.pid)
            return False
        return True
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def stop(record: ProcessRecord, timeout: float = 3.0) -> str:
    """SIGTERM the process group, wait, then SIGKILL whatever is left.

    Returns how it ended: "not running", "terminated" (stopped on SIGTERM within
    ``timeout`` seconds) or "killed" (it needed SIGKILL).
    """
    if not alive(record):
        return "not running"
    try:
        pgid = os.getpgid(record.pid)
    except ProcessLookupError:
        return "not running"
    own = pgid == record.pid
    members = _group(record.pid) if own else [psutil.Process(record.pid)]
    _signal(record.pid, signal.SIGTERM, own)
    left = wait_stopped(members, timeout)
    if left:
        _signal(record.pid, signal.SIGKILL, own)
        wait_stopped(left, timeout)
    _reap(record.pid)
    return "killed" if left else "terminated"


def stopped(proc: psutil.Process) -> bool:
    """True once ``proc`` has exited: gone, its pid reused, or a zombie its parent has not reaped yet.

    A zombie has stopped; only its exit status waits for its parent. Whoever adopts
    orphans (init, a container's first process, a subreaper) may reap them late, so
    a wait that counted zombies as running would wait for the reaper, not the process.
    """
    try:
        if proc.status() != psutil.STATUS_ZOMBIE:
            return not proc.is_running()  # is_running also compares the start time: a reused pid is not ours
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return True
    _reap(proc.pid)
    return True


def wait_stopped(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` seconds for every process to stop (see ``stopped``); returns those still running."""
    left = list(processes)

    def all_stopped() -> bool:
        nonlocal left
        left = [proc for proc in left if not stopped(proc)]
        return not left

    # most exit within milliseconds of the signal; a slow one is asked ten times a second
    wait_until(all_stopped, timeout, 0.005, backoff=2, max_interval=0.1)
    return left


def stop_naming(folder: Path | str, timeout: float = 3.0) -> list[int]:
    """Stop every process of this user whose command line names a path inside ``folder``; returns their pids.

    For a private temp folder only this program created (a grading course, a throwaway sandbox's state):
    whatever still names it once the job is over is a leftover of that job, such as a kernel whose
    parent was killed. SIGTERM, then SIGKILL after ``timeout`` seconds.
    """
    inside = str(Path(folder)) + os.sep
    me, uid = os.getpid(), os.getuid()
    found = []
    for proc in psutil.process_iter(["cmdline", "uids"]):
        try:
            if proc.pid != me and proc.info["uids"] and proc.info["uids"].real == uid \
                    and any(inside in arg for arg in proc.info["cmdline"] or ()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    left = found
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for proc in left:
            try:
                proc.send_signal(sig)  # psutil checks first that the pid still names the same process
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        left = wait_stopped(left, timeout)
        if not left:
            break
    return [proc.pid for proc in found]


def _group(pid: int) -> list[psutil.Process]:
    procs = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pid:
                procs.append(proc)
        except (ProcessLookupError, PermissionError):
            continue
    return procs


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def port_in_use(host: str, port: int) -> bool:
    """True when a server could not listen on host:port now; see ``port_problem``."""
    return port_problem(host, port) is not None


def port_problem(host: str, port: int) -> str | None:
    """Why a server could not listen on host:port now, or None when it can.

    Judged the way the servers bind (uvicorn, Go's net.Listen, tornado): SO_REUSEADDR,
    bind, listen, on every address ``host`` resolves to. So a port that only has
    connections in TIME-WAIT from an earlier server is free, as it is for them.
    """
    try:
        addresses = {info[4][:2]: info[0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except socket.gaierror as exc:
        return f"{host} does not resolve ({exc})"
    for address, family in addresses.items():
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
                sock.listen(1)
            except OSError as exc:
                if exc.errno == errno.EACCES:
                    return "this user may not listen on it"
                if exc.errno == errno.EADDRINUSE:
                    return _holder(address, family)
                raise
    return None


def _holder(address: tuple, family: int) -> str:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        if probe.connect_ex(address) == 0:
            return "another program listens on it"
    # Nothing answers, yet the kernel refuses: a socket bound without listening, or a client's
    # connection from this port waiting out TIME-WAIT (a socket without SO_REUSEADDR blocks it for a minute).
    return ("no program listens on it, but the kernel still holds it for a socket that is bound or for a "
            "recently closed connection from it (TIME-WAIT ends within about a minute)")


_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_FREE_PORT = 26000  # above the sandbox's defaults; 20000-25999 stay for callers that pass `within`


def free_port(host: str = "127.0.0.1", within: range | None = None) -> int:
    """A port that is free right now and that the kernel will not hand out as a client's source port.

    Asking the OS for port 0 returns one from the ephemeral range, which every outgoing connection on the
    machine also draws from: between choosing the port and a server binding it, a client (a scrape, a test's
    HTTP call) may take it and leave it in TIME-WAIT, and the server's start fails. So the port is drawn at
    random below that range (Linux: ``ip_local_port_range``, 32768 by default), or from ``within`` (for
    processes that choose ports long before binding them, each from a range of its own), and only port 0 is
    the fallback when no such port is free.
    """
    low = 32768
    try:
        low = int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    candidates = within if within is not None else range(_LOWEST_FREE_PORT, max(low, _LOWEST_FREE_PORT))
    rng = random.Random()
    for _ in range(50) if len(candidates) else ():
        port = rng.choice(candidates)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1", within: range | None = None) -> list[int]:
    """``count`` distinct ports, each free right now, drawn as ``free_port`` draws one. Separate draws can
    return the same port twice (nothing is bound yet), and two services of one sandbox on one port fail to start.
    """
    ports: list[int] = []
    while len(ports) < count:
        port = free_port(host, within)
        if port not in ports:
            ports.append(port)
    return ports


def log_tail(path: str | Path, lines: int = 15) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            return "\n".join(fh.read().decode(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""
