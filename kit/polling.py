"""Waiting: one loop that polls a condition until it holds or a deadline passes, and one periodic loop.

The kit never sleeps for a fixed time hoping something has happened by then: a
process's health, a page in the pager, a series in Prometheus, an empty queue —
each is asked again every ``interval`` seconds until it answers or ``timeout``
seconds have passed. Readiness then costs what it really takes, and a slow
machine gets its full timeout instead of a guess.

Time comes from an injectable clock and sleep. Tests pass a ``FakeClock`` and
its ``sleep``, or run the kit's own waits in ``simulated()``, the test
mode: no real time passes, and a timeout is reached after exactly its length of
simulated seconds.

    value = wait_until(lambda: find_page(), timeout=60, interval=0.2)    # the page, or None
    wait_for(healthy, timeout=20, describe="the shop did not answer /health within 20 s")  # or CheckFailed
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import CheckFailed, InvalidInput

__all__ = ["Clock", "Sleep", "FakeClock", "simulated", "wait_until", "wait_for", "every"]

T = TypeVar("T")
Clock = Callable[[], float]
"""Seconds on a clock that only moves forward (``time.monotonic`` outside tests)."""
Sleep = Callable[[float], object]
"""Pauses for the given seconds (``time.sleep`` outside tests)."""


@dataclass
class FakeClock:
    """Time that moves only when slept on or advanced: hand ``clock`` and ``clock.sleep`` to a wait.

    ``slept`` records every pause asked for, in seconds, so a test can check the intervals and the backoff.
    """

    t: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds

    def advance(self, seconds: float) -> None:
        """Time passes without a pause of the wait's own (say, a slow condition)."""
        self.t += seconds


_mode = threading.local()


@contextlib.contextmanager
def simulated(clock: FakeClock | None = None) -> Iterator[FakeClock]:
    """Test mode: every wait of this thread that is given no clock of its own runs on ``clock`` (a new one if None).

    For waits deep inside the kit (``kit.pager.wait_for_page``, a sandbox's health wait) whose callers
    cannot pass a clock. Other threads keep real time.
    """
    previous = getattr(_mode, "clock", None)
    _mode.clock = clock if clock is not None else FakeClock()
    try:
        yield _mode.clock
    finally:
        _mode.clock = previous


def _time(clock: Clock | None, sleep: Sleep | None) -> tuple[Clock, Sleep]:
    fake = getattr(_mode, "clock", None)
    return (clock or fake or time.monotonic), (sleep or (fake.sleep if fake else time.sleep))


def wait_until(condition: Callable[[], T], timeout: float, interval: float = 0.05, *, backoff: float = 1.0,
               max_interval: float | None = None, clock: Clock | None = None,
               sleep: Sleep | None = None) -> T | None:
    """Call ``condition`` until it returns a truthy value and return that value; None once ``timeout`` s pass.

    The condition is called at once, then after pauses of ``interval`` seconds, each pause ``backoff``
    times the one before (at most ``max_interval`` s), and a last time at the deadline: the last pause is
    cut to end there, so a wait lasts ``timeout`` seconds plus the condition's own time, never a whole
    interval more. ``timeout`` 0 asks once. A condition that raises ends the wait with its error.

    Raises InvalidInput for a negative timeout, an interval that is not positive, or a backoff below 1.
    """
    if timeout < 0:
        raise InvalidInput("timeout", f"must be 0 or more seconds, got {timeout!r}")
    if interval <= 0:
        raise InvalidInput("interval", f"must be more than 0 seconds, got {interval!r}")
    if backoff < 1:
        raise InvalidInput("backoff", f"must be 1 (a steady interval) or more, got {backoff!r}")
    now, pause = _time(clock, sleep)
    deadline = now() + timeout
    wait = interval
    while True:
        value = condition()
        if value:
            return value
        left = deadline - now()
        if left <= 0:
            return None
        pause(min(wait, left))
        wait = wait * backoff if max_interval is None else min(wait * backoff, max_interval)


def wait_for(condition: Callable[[], T], timeout: float, interval: float = 0.05, *,
             describe: str | Callable[[], str], backoff: float = 1.0, max_interval: float | None = None,
             clock: Clock | None = None, sleep: Sleep | None = None) -> T:
    """``wait_until`` that raises instead of returning None: CheckFailed whose message is ``describe``.

    ``describe`` says what did not happen in time and what to do about it, as the person should read it.
    A callable is asked only at the deadline, so the message can tell what the last attempt saw.
    """
    value = wait_until(condition, timeout, interval, backoff=backoff, max_interval=max_interval, clock=clock,
                       sleep=sleep)
    if value:
        return value
    raise CheckFailed(describe() if callable(describe) else describe)


def every(interval: float, action: Callable[[], object], *, stop: threading.Event,
          sleep: Sleep | None = None) -> None:
    """Call ``action`` now, then ``interval`` seconds after each call returns, until ``stop`` is set.

    For a loop that runs as long as something lives (a watcher, a widget's ticker); a wait for one
    condition is ``wait_until``. Setting ``stop`` (from ``action`` or another thread) cuts the current
    pause short. With a ``sleep`` (or in ``simulated``), pauses use it and ``stop`` is checked after each.
    """
    if interval <= 0:
        raise InvalidInput("interval", f"must be more than 0 seconds, got {interval!r}")
    fake = getattr(_mode, "clock", None)
    pause = sleep or (fake.sleep if fake else stop.wait)
    while not stop.is_set():
        action()
        if stop.is_set():
            return
        pause(interval)
