"""Tie a child process's life to the process that starts it: ``python tether.py PARENT_PID ARGV...``.

On Linux the child asks the kernel to send it SIGTERM when the thread that started
it ends (``PR_SET_PDEATHSIG``; the setting survives ``exec``), then becomes ARGV. So
a load generator, JupyterLab or a ``kit lab`` sandbox stops even when whatever
started it is killed with SIGKILL or dies, when no handler of its own can run.
If PARENT_PID has already gone by then, ARGV never starts. Elsewhere (macOS) it
only execs ARGV: the signal handlers of ``kit.cli`` and the ``finally`` blocks
remain the only cleanup there.

Run by file path with ``python -S``, so it imports nothing from the kit and
needs no ``sys.path``: ``kit.procs.tethered`` builds the command.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    parent, command = int(argv[0]), argv[1:]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the parent died before the request took effect
        sys.exit(143)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
