"""The sandbox: shop (behind HAProxy), payments, pager, Alertmanager and Prometheus on this machine, started, watched
and stopped.

``kit.sandbox.up()``, ``status()``, ``down()`` and the rest are re-exported here. The package's modules:

- ``control``: up, down, restart, logs; companions that ``down`` stops too; a throwaway sandbox for a job
- ``status``: what runs right now, checked against the processes, their health checks and Prometheus
- ``rules``: rule files installed into the running sandbox and removed again
- ``render``: the Prometheus and Alertmanager configuration, rendered from ``sandbox/`` for a profile and ports
- ``processes``: each process's command line, port and health check
- ``record``: ``sandbox.json``, the record of what runs, and the lock one ``kit up``/``kit down`` holds
- ``tsdb``: Prometheus's TSDB admin API, and new blocks (backfilled history) opened without a restart
"""

from __future__ import annotations

from .control import Progress, attach, detach, down, logs, restart, throwaway, up
from .processes import HEALTH_PATHS, HOST_PORTS, PROCESS_NAMES, START_ORDER
from .render import render, rule_count
from .rules import install_rules, remove_rules
from .status import ProcessStatus, SandboxStatus, current_config, is_up, links, pids, require, status

__all__ = [
    "HEALTH_PATHS", "HOST_PORTS", "PROCESS_NAMES", "START_ORDER", "Progress", "ProcessStatus", "SandboxStatus",
    "attach", "current_config", "detach", "down", "install_rules", "is_up", "links", "logs", "pids", "remove_rules",
    "render", "require", "restart", "rule_count", "status", "throwaway", "up",
]
