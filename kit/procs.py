"""One helper for child processes: argv lists, own process group, pid records, health polls.

Records carry the process's start time so a stale pid file (a pid reused by
an unrelated program after a reboot or a crash) is never mistaken for ours.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import psutil


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
          cwd: Path | None = None) -> ProcessRecord:
    """Start ``argv`` detached in its own session so it outlives the caller (shell or kernel)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, cwd=cwd, close_fds=True,
        )
    try:
        created = psutil.Process(proc.pid).create_time()
    except psutil.NoSuchProcess:
        created = 0.0
    return ProcessRecord(name, proc.pid, created, list(argv), str(log), port)


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


def stop(record: ProcessRecord, timeout: float = 3.0) -> None:
    """SIGTERM the process group, wait, then SIGKILL whatever is left."""
    if not alive(record):
        return
    try:
        pgid = os.getpgid(record.pid)
    except ProcessLookupError:
        return
    own = pgid == record.pid
    members = _group(record.pid) if own else [psutil.Process(record.pid)]
    _signal(record.pid, signal.SIGTERM, own)
    gone, left = psutil.wait_procs(members, timeout=timeout)
    if left:
        _signal(record.pid, signal.SIGKILL, own)
        psutil.wait_procs(left, timeout=timeout)
    _reap(record.pid)


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
    """True when something already listens on host:port (binding would fail)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def log_tail(path: str | Path, lines: int = 15) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            return "\n".join(fh.read().decode(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass; never a blind sleep."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
