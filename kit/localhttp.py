"""The kit's HTTP client for the sandbox's own services: one per process, made once.

``httpx.get()`` and every fresh ``httpx.Client()`` build a TLS context and load the system's CA bundle, about
25 ms of CPU each time, although the kit only speaks plain HTTP to services it started. A drill's watcher polls
five endpoints twice a second, so that alone kept a tenth of a core busy. Connections are not kept alive: a
service restarted on the same port (a mitigation) would otherwise meet a dead pooled connection.
"""

from __future__ import annotations

import os
import threading

import httpx

STATUS_TIMEOUT_S = 1.0
"""A health check or status read: a local service that takes longer counts as not answering."""

_client: httpx.Client | None = None
_lock = threading.Lock()


def client() -> httpx.Client:
    """This process's shared client (thread-safe); give each request its own ``timeout`` (seconds)."""
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
        return _client


def _forget_after_fork() -> None:
    """A forked child makes its own client: the parent's lock may have been held at the fork."""
    global _client, _lock
    _client, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
