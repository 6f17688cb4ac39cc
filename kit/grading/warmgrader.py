"""A warm process per cohort that has imported nbgrader once and forks each student's autograder from it.

Every ``nbgrader autograde`` process would spend about a second of CPU importing nbgrader, Jupyter's
client and their stack before grading anything, for each student and again for each regrade. A
``WarmGrader`` starts one Python process (:mod:`kit.grading.warmserver`) that runs those imports,
then forks a fresh child per job; the child becomes exactly what ``python -c CODE ARGS`` would have
been: same argv, environment, working folder, output appended to the job's log, its own process
group, its exit status reported back.

Forking is only sound from a process with a single thread and before any event loop or zmq context
exists. So the warm process only imports: the preload must not start threads (the warm process
checks it), open kernels or event loops; every job creates its own in its child.

Nothing outlives the kit: the warm process is started with :func:`kit.procs.start` (tethered), and
every child it forks asks the kernel for SIGTERM when the warm process dies (``PR_SET_PDEATHSIG``,
as :mod:`kit.tether` does), so a SIGKILL of the kit takes them all. A warm process that died is
replaced by a new one for the next job; one that does not answer within ``patience`` seconds is
stopped with whatever it forked, and that job runs as a process of its own (``procs.start``), so a
broken warm process never holds up a cohort.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path

import psutil

from .. import procs

__all__ = ["WarmChild", "WarmGrader"]

_SERVER = Path(__file__).with_name("warmserver.py")
_PATIENCE = 30.0
"""Seconds a warm process may take to fork a job, its preload included: a busy machine takes a few."""
_REAPED = 3.0
"""Seconds the warm process may take to report a child killed with SIGKILL, which it reaps at once."""


class WarmGrader:
    """Runs ``[sys.executable, "-c", CODE, *ARGS]`` jobs, one at a time, as children of a warm process.

    ``preload`` is Python source run once in the warm process (imports); ``env`` and ``cwd`` are the
    environment and folder the warm process runs its preload in, so what modules read from them while
    importing is what each job's own process would have read: give those every job shares. Used as a
    ``with`` block, which stops the warm process and anything it forked on the way out; the warm
    process is started at the first job. Linux and macOS (elsewhere than Linux, a job outlives a
    killed kit as a ``procs.start`` job would).
    """

    def __init__(self, preload: str, *, env: dict[str, str], cwd: Path, log: Path,
                 patience: float = _PATIENCE) -> None:
        self.preload = preload
        self.env = dict(env)
        self.cwd = Path(cwd)
        self.log = Path(log)
        """The warm process's own output (a failed preload's traceback), appended."""
        self.patience = patience
        self._warm: procs.Child | None = None
        self._channel: _Channel | None = None

    @property
    def pid(self) -> int | None:
        """The running warm process's pid, None when there is none."""
        return self._warm.pid if self._warm is not None and self._warm.poll() is None else None

    def start(self, argv: list[str], *, log: Path, env: dict[str, str], cwd: Path) -> WarmChild | procs.Child:
        """Start the job ``argv`` (``[sys.executable, "-c", CODE, *ARGS]``) as ``procs.start`` would.

        Its output is appended to ``log``, it runs in ``env`` and ``cwd`` and leads its own process group;
        stop it with ``stop()`` or a ``with`` block. Forked from the warm process, or a process of its own
        when the warm process does not answer. Raises ValueError for any other kind of argv and OSError when
        ``log`` cannot be opened; the previous job must have ended (waited for or stopped).
        """
        argv = list(argv)
        if argv[:2] != [sys.executable, "-c"] or len(argv) < 3:
            raise ValueError(f"a warm process runs `{sys.executable} -c CODE ARGS...`, not {argv[:2]}")
        log.parent.mkdir(parents=True, exist_ok=True)
        request = {"argv": argv, "env": dict(env), "cwd": str(cwd)}
        with open(log, "ab") as out:
            for _ in range(2):  # a warm process found dead is replaced once
                channel = self._running()
                try:
                    channel.send(request, out.fileno())
                except OSError:
                    self._discard()
                    continue
                try:
                    answer = channel.receive(self.patience)
                except EOFError:  # died on the request (or in its preload): this job runs on its own
                    break
                if answer is not None and "pid" in answer:
                    return WarmChild(argv, log, answer["pid"], self, channel)
                break
        self._discard()
        return procs.start(argv, log=log, env=env, cwd=cwd)

    def _running(self) -> _Channel:
        """The channel to a live warm process, starting one when there is none or it has died."""
        if self._warm is not None and self._warm.poll() is not None:
            self._discard()
        if self._warm is None or self._channel is None:
            mine, theirs = socket.socketpair()
            try:
                self._warm = procs.start([sys.executable, str(_SERVER), str(theirs.fileno()), self.preload],
                                         log=self.log, env=self.env, cwd=self.cwd, pass_fds=(theirs.fileno(),))
            except BaseException:
                mine.close()
                raise
            finally:
                theirs.close()
            self._channel = _Channel(mine)
        return self._channel

    def _discard(self) -> None:
        """Stop the warm process and everything it forked; the next job starts a new one."""
        warm, channel = self._warm, self._channel
        self._warm = self._channel = None
        if channel is not None:
            channel.close()
        if warm is None:
            return
        try:
            forked = psutil.Process(warm.pid).children()
        except psutil.NoSuchProcess:
            forked = []
        warm.stop()  # SIGTERM: its children get theirs from the kernel (PR_SET_PDEATHSIG)
        for child in procs.wait_stopped(forked, _REAPED):
            _kill_group(child.pid)

    def close(self) -> None:
        """Stop the warm process and anything it forked."""
        self._discard()

    def __enter__(self) -> WarmGrader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class WarmChild:
    """A job forked by the warm process: waited for and stopped like a :class:`kit.procs.Child`."""

    def __init__(self, argv: list[str], log: Path, pid: int, owner: WarmGrader, channel: _Channel) -> None:
        self.argv = argv
        self.log = log
        self.pid = pid
        self.returncode: int | None = None
        self._owner = owner
        self._channel = channel
        try:
            self._process: psutil.Process | None = psutil.Process(pid)
        except psutil.NoSuchProcess:  # already ended and reaped: its exit status is on the way
            self._process = None

    def poll(self) -> int | None:
        """Its exit code, or None while it runs."""
        return self.wait(0)

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until it exits, at most ``timeout`` seconds (None: however long); its exit code, or None if it
        runs on. When the warm process dies first, the job got SIGTERM from the kernel: it is made sure to end
        (SIGKILL to its group after a few seconds) and reported killed by that signal."""
        if self.returncode is not None:
            return self.returncode
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                message = self._channel.receive(left)
            except EOFError:
                self.returncode = self._orphaned()
                return self.returncode
            if message is None:
                return None
            if message.get("pid") == self.pid and "exit" in message:
                self.returncode = int(message["exit"])
                return self.returncode

    def stop(self, timeout: float = 3.0) -> str:
        """As ``procs.Child.stop``: SIGTERM to the job, up to ``timeout`` seconds, then SIGKILL to its process group.

        A warm process that then does not report the job's end is stopped (and replaced at the next job).
        Returns how it ended: "not running", "terminated" or "killed".
        """
        if self.wait(0) is not None:
            return "not running"
        self._signal(signal.SIGTERM)
        if self.wait(timeout) is not None:
            return "terminated"
        _kill_group(self.pid)
        if self.wait(_REAPED) is None:
            self._discard_warm()
            self.returncode = -signal.SIGKILL
        return "killed"

    def _discard_warm(self) -> None:
        if self._owner._channel is self._channel:  # not yet replaced
            self._owner._discard()

    def _orphaned(self) -> int:
        self._discard_warm()
        if self._process is None or not procs.wait_stopped([self._process], _REAPED):
            return -signal.SIGTERM
        _kill_group(self.pid)
        procs.wait_stopped([self._process], _REAPED)
        return -signal.SIGKILL

    def _signal(self, sig: int) -> None:
        try:
            if self._process is not None:
                self._process.send_signal(sig)  # psutil checks first that the pid still names this job
        except psutil.NoSuchProcess:
            pass

    def __enter__(self) -> WarmChild:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class _Channel:
    """One end of the socket to a warm process: JSON lines, a request's file passed along with it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = b""

    def send(self, message: dict, fd: int) -> None:
        data = json.dumps(message).encode() + b"\n"
        sent = socket.send_fds(self.sock, [data[:1]], [fd])
        self.sock.sendall(data[sent:])

    def receive(self, timeout: float | None) -> dict | None:
        """The next message, or None after ``timeout`` seconds; raises EOFError when the warm process has gone."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.pending:
            if self.sock.fileno() == -1:
                raise EOFError("the warm process was stopped")
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not select.select([self.sock], [], [], left)[0]:
                return None
            try:
                data = self.sock.recv(1 << 16)
            except OSError:  # reset by a warm process that died
                data = b""
            if not data:
                raise EOFError("the warm process has gone")
            self.pending += data
        line, _, self.pending = self.pending.partition(b"\n")
        return json.loads(line)

    def close(self) -> None:
        self.sock.close()
