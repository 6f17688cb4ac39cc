"""The warm process of :mod:`kit.grading.warmgrader`: ``python warmserver.py CHANNEL_FD PRELOAD``.

It runs PRELOAD (Python source: the imports every job would start with) once, then serves requests
from the socket CHANNEL_FD, one at a time: each names ``[python, "-c", CODE, *ARGS]``, an environment,
a working folder and (passed over the socket) the file for the job's output. For each it forks a
child that becomes what ``python -c CODE ARGS`` would be in that environment and folder, with that
output, leading a process group of its own; it answers with the child's pid, then with its exit
status once the child has ended. On the socket's end of file it exits.

Forking is only sound while this process has a single thread and no event loop or zmq context
exists: it checks the one after PRELOAD and runs nothing else (the jobs create theirs in the child).
Each child asks the kernel (Linux) for SIGTERM when this process dies, as ``kit.tether`` does, and
this process is itself started tethered, so nothing it forked outlives the kit.

Run by file path and imports only the standard library: PRELOAD alone decides what is loaded, as in
the process it stands in for. The socket speaks one JSON object per line.
"""

import sys

sys.path[0] = ""  # what `python -c` puts first: the working folder, not this file's folder

import ctypes  # noqa: E402 - after sys.path is `python -c`'s
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import types  # noqa: E402

PR_SET_PDEATHSIG = 1
_MAX_FDS = 1  # the job's output file


def main(argv: list[str]) -> None:
    channel = socket.socket(fileno=int(argv[0]))
    exec(compile(argv[1], "<preload>", "exec"), {"__name__": "__preload__"})
    if threading.active_count() != 1:
        sys.exit(f"the preload started {threading.active_count() - 1} threads; forking would be unsafe")
    gc.collect()
    gc.freeze()  # the collector then never walks the preload's objects: fewer copied pages and less CPU per child
    job = _serve(channel)
    if job is None:
        return
    code = compile(job[2], "<string>", "exec")
    sys.orig_argv = list(job)
    sys.argv = ["-c", *job[3:]]
    fresh = types.ModuleType("__main__")
    sys.modules["__main__"] = fresh
    exec(code, fresh.__dict__)


def _serve(channel: socket.socket) -> list[str] | None:
    """Fork a child per request; returns only in a child (its argv), or None at the end of the requests."""
    pending = b""
    while True:
        line, pending, fds = _request(channel, pending)
        if line is None:
            return None
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        warm = os.getpid()
        pid = os.fork()
        if pid == 0:
            _become(request, fds[0], channel, warm)
            return request["argv"]
        for fd in fds:
            os.close(fd)
        _send(channel, {"pid": pid})
        _, status = os.waitpid(pid, 0)
        _send(channel, {"pid": pid, "exit": os.waitstatus_to_exitcode(status)})


def _become(request: dict, output: int, channel: socket.socket, warm: int) -> None:
    """In the child: what ``subprocess.Popen(..., start_new_session=True)`` and ``kit.tether`` would have set up."""
    os.setsid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            os._exit(1)
        if os.getppid() != warm:  # the warm process died before the request took effect
            os._exit(143)
    channel.close()
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(output)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])


def _request(channel: socket.socket, pending: bytes) -> tuple[str | None, bytes, list[int]]:
    """The next request line, the bytes after it, and the files that came with it; None at end of file."""
    fds: list[int] = []
    while b"\n" not in pending:
        data, received, _, _ = socket.recv_fds(channel, 1 << 16, _MAX_FDS)
        fds += received
        if not data:
            for fd in fds:
                os.close(fd)
            return None, b"", []
        pending += data
    line, _, rest = pending.partition(b"\n")
    return line.decode(), rest, fds


def _send(channel: socket.socket, message: dict) -> None:
    channel.sendall(json.dumps(message).encode() + b"\n")


if __name__ == "__main__":
    main(sys.argv[1:])
