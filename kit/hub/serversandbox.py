"""The learner's sandbox for the life of their Jupyter server: a Jupyter server extension, run in the server itself.

`kit hub serve` (JupyterHub's ``Spawner.cmd``) becomes JupyterHub's single-user server with this extension
enabled, so a learner's spawn runs no Python process of the kit's beside the server (about 29 MB PSS each,
measured by benchmarks/cohort.py). When the server loads the extension, a thread starts the sandbox while the
server starts, so the hub sees the server within its usual wait. A sandbox that cannot start (a port someone else
holds) is reported in the server's log and leaves the server running: the learner sees `kit up`'s message when
they try.

The thread that started the sandbox lives as long as the server: the sandbox's processes are tethered to it
(``kit.procs.tethered``), so they stop with the server even when it is killed with SIGKILL. When the server
stops (the hub's SIGINT, then SIGTERM), it shuts its kernels down, then, as the interpreter exits, this
extension stops the sandbox with whatever a drill attached to it; nobody else's.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from typing import Any

GO_GC_PERCENT = "50"
"""GOGC for the sandbox's Go programs (Prometheus, Alertmanager) on a hub, unless the host sets one: a cohort's
memory counts more than their little CPU. Go's default, 100, lets the heap grow to twice what is live; 50 saves
about 7 MB (PSS) per learner, measured by benchmarks/cohort.py. It reaches what the server starts (kernels,
terminals), where only Go programs read it."""
STOP_TIMEOUT_S = 60.0
"""The longest the server's exit waits for the sandbox's start (when it stops early) and stop to finish."""


class ServerSandbox:
    """The sandbox of the server's KIT_* settings, started by a thread that then waits for ``stop`` and brings it
    down. ``log`` is the server's logger."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kit-sandbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the sandbox and wait for it (the hub's second signal must not cut the stopping short)."""
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)
        self._stopping.set()
        self._thread.join(STOP_TIMEOUT_S)

    def _run(self) -> None:
        from .. import sandbox
        from ..config import Config
        from ..errors import KitError

        try:
            config = Config.from_env()
        except KitError as exc:
            self.log.error("kit: no sandbox for this server: %s", exc)
            return
        try:
            if not self._stopping.is_set():
                sandbox.up(config=config, progress=self.log.info, tether=True)
        except KitError as exc:
            self.log.error("kit: the sandbox did not start: %s", exc)
        except RuntimeError as exc:  # the server failed to start and the interpreter is already shutting down
            self.log.error("kit: the sandbox did not start, the server is stopping: %s", exc)
        self._stopping.wait()
        sandbox.down(config, progress=self.log.info)
        self.log.info("kit: the learner's sandbox stopped")


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    os.environ.setdefault("GOGC", GO_GC_PERCENT)
    keeper = ServerSandbox(serverapp.log)
    keeper.start()
    atexit.register(keeper.stop)
