"""The open-model generator's pacing: the timerfd that wakes it when each request is due."""

from __future__ import annotations

import asyncio
import time

import uvloop

from kit.load.openmodel import _Pacer


def test_pacer_wakes_at_or_after_each_instant_including_past_and_sub_millisecond_ones():
    async def scenario() -> list[float]:
        pacer = _Pacer.create(asyncio.get_running_loop())
        assert pacer is not None, "Linux has timerfd: the generator must not fall back to millisecond sleeps"
        lateness = []
        try:
            for offset in (-0.01, 0.0, 0.0003, 0.0007, 0.002, 0.0003):
                due = time.monotonic() + offset
                await asyncio.wait_for(pacer.sleep_until(due), timeout=10)  # a past instant must not hang
                lateness.append(time.monotonic() - due)
        finally:
            pacer.close()
        return lateness

    lateness = uvloop.run(scenario())
    assert len(lateness) == 6 and min(lateness) >= 0, lateness  # early would send a request before its time
