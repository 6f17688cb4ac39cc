"""The shop's calls to payments, measured from the caller's side (timeouts never reach payments' metrics).

A module of its own so that only the shop loads aiohttp: payments runs the same service module and makes no
call, and aiohttp with its resolver adds about 10 MB to a process's resident memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import HTTPException
from prometheus_client import CollectorRegistry, Counter, Histogram

from ..metrics import LATENCY_BUCKETS, PAYMENT_OUTCOMES
from .model import ROUTES


class PaymentsClient:
    """One shop's client of payments at ``url``, giving up after ``timeout_s`` seconds; its metrics go to
    ``registry``: ``payments_client_requests_total{outcome}`` and ``payments_client_duration_seconds``."""

    def __init__(self, url: str, timeout_s: float, registry: CollectorRegistry) -> None:
        self.url, self.timeout_s = url, timeout_s
        self.http: aiohttp.ClientSession | None = None
        requests = Counter(
            "payments_client_requests_total", "Calls from the shop to payments, by outcome", ("outcome",),
            registry=registry,
        )
        self.outcomes = {outcome: requests.labels(outcome) for outcome in PAYMENT_OUTCOMES}
        self.duration = Histogram(
            "payments_client_duration_seconds", "Time the shop waited for payments", buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[None]:
        """aiohttp rather than httpx for the one call the shop makes: at the lab's traffic httpx's client took about
        1.6 ms of CPU per payment, more than the shop spent on the rest of the request (py-spy, 108 req/s)."""
        connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=30)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(self.url, connector=connector, timeout=timeout,
                                         auto_decompress=False) as self.http:
            yield

    async def pay(self, order_id: str, amount: float) -> None:
        """Charge one order; a failed payment becomes 502 (payments said no) or 504 (no answer)."""
        start = time.perf_counter()
        try:
            async with self.http.post(ROUTES["pay"].path, json={"order_id": order_id, "amount": amount}) as response:
                await response.read()
        except asyncio.TimeoutError:  # aiohttp's connect and read timeouts are TimeoutErrors too
            outcome = "timeout"
        except aiohttp.ClientError:
            outcome = "unreachable"
        else:
            outcome = "ok" if response.ok else "error"
        self.duration.observe(time.perf_counter() - start)
        self.outcomes[outcome].inc()
        if outcome == "error":
            raise HTTPException(502, f"payments answered {response.status}")
        if outcome == "timeout":
            raise HTTPException(504, f"payments did not answer within {self.timeout_s:g} s")
        if outcome == "unreachable":
            raise HTTPException(504, "payments is unreachable")
