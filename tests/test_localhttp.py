"""The kit talks to its sandbox through one HTTP client per process (kit/localhttp.py): a poll costs a request,
not a new TLS context with the system's CA bundle loaded (about 25 ms of CPU each)."""

from __future__ import annotations

import os
import ssl

from kit import localhttp, prom, sandbox
from kit.shop import faults


def test_polling_the_sandbox_builds_no_tls_context(live, monkeypatch):
    localhttp.client()  # the one this process makes, whenever it first needs it
    made = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *args, **kwargs: made.append(1) or real(*args, **kwargs))
    for _ in range(3):  # what a drill's watcher and a notebook's waits do over and over
        prom.scalar("1", config=live)
        prom.alerts(config=live)
        faults.list_faults(config=live)
        sandbox.status(live)
    assert made == [], f"{len(made)} TLS contexts built for 12 local requests"


def test_a_forked_child_makes_its_own_client():
    parent = localhttp.client()
    pid = os.fork()
    if pid == 0:  # the child: its own client, whatever state the parent's lock was in
        os._exit(0 if localhttp.client() is not parent else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert localhttp.client() is parent
