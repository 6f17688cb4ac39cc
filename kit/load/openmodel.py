"""Open-model load generator: requests leave at scheduled times, latency counts from the schedule.

A closed-loop tool (one request per user, the next only after the previous answered)
sends nothing while the service stalls, so the stall is measured once per user and
the percentiles look far better than what arriving users experience: coordinated
omission. Here request ``i`` is *intended* to start at ``t0 + i / rate`` whatever
happened to earlier ones; its latency is measured from that intended start, so time
spent waiting for a connection or for a late event loop counts too.

Run by ``kit.load.open_model`` as a subprocess (its own core and event loop)::

    python -m kit.load.openmodel --url http://127.0.0.1:18080/products/p01 --rate 500 --duration 5 --out r.json

The HTTP client is a minimal HTTP/1.1 keep-alive client on asyncio protocols (uvloop
when installed): one request in flight per connection, connections opened as needed
up to ``--max-connections``, responses parsed by Content-Length or chunked encoding.
``Histogram`` (pure, no I/O) is imported by ``kit.load``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ctypes
import ctypes.util
import gc
import json
import math
import os
import signal
import sys
import time
from urllib.parse import urlsplit

TICK = 0.001  # seconds: the event loop's own timer resolution (the pacing without a timerfd)
SUB_BITS = 11  # 2048 sub-buckets per power of two: relative error below 1/1024 (~0.1 %)


class Histogram:
    """HDR-style log-linear histogram of non-negative integers (microseconds here).

    Values below 2**SUB_BITS have their own bucket; above, each power of two is cut into
    2**(SUB_BITS-1) equal buckets, so a bucket is never wider than 1/1024 of its values.
    """

    def __init__(self) -> None:
        self.counts: dict[int, int] = collections.defaultdict(int)
        self.total = 0
        self.min = math.inf
        self.max = 0
        self.sum = 0

    @staticmethod
    def index(value: int) -> int:
        if value < (1 << SUB_BITS):
            return value
        shift = value.bit_length() - SUB_BITS
        return (shift << (SUB_BITS - 1)) + (value >> shift)

    @staticmethod
    def bounds(index: int) -> tuple[int, int]:
        """[low, high] values of a bucket."""
        if index < (1 << SUB_BITS):
            return index, index
        shift = (index >> (SUB_BITS - 1)) - 1
        mantissa = index - (shift << (SUB_BITS - 1))
        low = mantissa << shift
        return low, low + (1 << shift) - 1

    def record(self, value: int, count: int = 1) -> None:
        value = max(0, int(value))
        self.counts[self.index(value)] += count
        self.total += count
        self.sum += value * count
        self.min = min(self.min, value)
        self.max = max(self.max, value)

    def merge(self, other: "Histogram") -> None:
        for index, count in other.counts.items():
            self.counts[index] += count
        self.total += other.total
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def percentile(self, q: float) -> float:
        """The value at quantile ``q`` in percent (0-100): the middle of its bucket, capped by min and max."""
        if not self.total:
            return math.nan
        rank = max(1, math.ceil(q / 100 * self.total))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                low, high = self.bounds(index)
                return min(max((low + high) / 2, self.min), self.max)
        return float(self.max)

    def count_at_most(self, value: float) -> int:
        """How many recorded values are at most ``value`` (a bucket straddling it counts as above)."""
        return sum(count for index, count in self.counts.items() if self.bounds(index)[1] <= value)

    @property
    def mean(self) -> float:
        return self.sum / self.total if self.total else math.nan

    def to_json(self) -> dict:
        return {"counts": {str(k): v for k, v in self.counts.items()}, "total": self.total,
                "min": None if self.total == 0 else self.min, "max": self.max, "sum": self.sum}

    @classmethod
    def from_json(cls, data: dict) -> "Histogram":
        hist = cls()
        for key, count in data["counts"].items():
            hist.counts[int(key)] = count
        hist.total, hist.max, hist.sum = data["total"], data["max"], data["sum"]
        hist.min = math.inf if data["min"] is None else data["min"]
        return hist


class _ITimerSpec(ctypes.Structure):
    """struct itimerspec: the repeat interval, then the expiry (seconds, nanoseconds)."""

    _fields_ = [("interval_s", ctypes.c_long), ("interval_ns", ctypes.c_long),
                ("value_s", ctypes.c_long), ("value_ns", ctypes.c_long)]


class _Pacer:
    """Wakes the event loop at an absolute ``time.monotonic()`` instant, to the microsecond (a Linux timerfd).

    The loop's own timers (libuv's, or asyncio's epoll timeout) count whole milliseconds, so
    requests due between two ticks would leave up to 1 ms late; a timerfd armed for each
    request's intended start wakes the loop when that request is due, without spinning.
    ``create`` returns None where timerfd is missing (not Linux); the generator then paces
    with millisecond sleeps.
    """

    _CLOCK_MONOTONIC, _TFD_NONBLOCK, _TFD_CLOEXEC, _TFD_TIMER_ABSTIME = 1, 0o4000, 0o2000000, 1

    def __init__(self, libc, fd: int, loop: asyncio.AbstractEventLoop) -> None:
        self.libc, self.fd, self.loop = libc, fd, loop
        self.waiter: asyncio.Future | None = None
        loop.add_reader(fd, self._fired)

    @classmethod
    def create(cls, loop: asyncio.AbstractEventLoop) -> "_Pacer | None":
        if not sys.platform.startswith("linux"):
            return None
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if not hasattr(libc, "timerfd_create"):
            return None
        fd = libc.timerfd_create(cls._CLOCK_MONOTONIC, cls._TFD_NONBLOCK | cls._TFD_CLOEXEC)
        return None if fd < 0 else cls(libc, fd, loop)

    def _fired(self) -> None:
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            return
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def sleep_until(self, when: float) -> None:
        seconds = int(when)
        spec = _ITimerSpec(0, 0, seconds, max(1, int((when - seconds) * 1e9)))  # an all-zero value would disarm it
        self.waiter = self.loop.create_future()
        if self.libc.timerfd_settime(self.fd, self._TFD_TIMER_ABSTIME, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        await self.waiter

    def close(self) -> None:
        self.loop.remove_reader(self.fd)
        os.close(self.fd)


class _Conn(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, gen: "_Generator") -> None:
        self.gen = gen
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.intended = 0.0
        self.busy = False
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def send(self, intended: float) -> None:
        self.intended = intended
        self.busy = True
        self.transport.write(self.gen.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.busy:
            parsed = _parse(self.buf)
            if parsed is None:
                return
            status, used, keep = parsed
            del self.buf[:used]
            self.busy = False
            self.gen.done(self, status, keep)

    def connection_lost(self, exc) -> None:
        self.closed = True
        if self.busy:
            self.busy = False
            self.gen.done(self, 0, False)
        self.gen.lost(self)


def _parse(buf: bytearray) -> tuple[int, int, bool] | None:
    """(status, bytes used, keep-alive) of one complete response at the start of ``buf``, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length, chunked, keep = 0, False, not head[0].startswith("HTTP/1.0")
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection":
            keep = value != "close"
    start = end + 4
    if not chunked:
        return (status, start + length, keep) if len(buf) >= start + length else None
    pos = start
    while True:
        line_end = buf.find(b"\r\n", pos)
        if line_end < 0:
            return None
        size = int(bytes(buf[pos:line_end]).split(b";")[0], 16)
        pos = line_end + 2 + size + 2
        if len(buf) < pos:
            return None
        if size == 0:
            return status, pos, keep


class _Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        parts = urlsplit(args.url)
        self.host = parts.hostname
        self.port = parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        body = (args.body or "").encode()
        head = [f"{args.method} {path} HTTP/1.1", f"Host: {parts.netloc}", "User-Agent: kit-openmodel",
                "Accept: */*"]
        if body or args.method not in ("GET", "HEAD"):
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        self.args = args
        self.rate = args.rate
        self.total = int(round(args.rate * args.duration))
        self.hist = Histogram()
        self.idle: list[_Conn] = []
        self.open = 0
        self.connecting = 0
        self.backlog: collections.deque[float] = collections.deque()
        self.sent = 0
        self.completed = 0
        self.errors = 0
        self.transport_errors = 0
        self.connect_error = ""
        self.status: collections.Counter = collections.Counter()
        self.per_second: dict[int, list] = {}
        self.lag = Histogram()  # how late each request actually left, microseconds
        self.t0 = 0.0
        self.finished = asyncio.Event()
        self.stopping = False
        self.all_scheduled = False
        self.loop = asyncio.get_running_loop()
        self.pacer = _Pacer.create(self.loop)

    async def connect(self) -> _Conn | None:
        self.connecting += 1
        try:
            _, conn = await self.loop.create_connection(lambda: _Conn(self), self.host, self.port)
        except OSError as exc:
            self.transport_errors += 1
            self.connect_error = f"{exc.__class__.__name__}: {exc}"
            return None
        finally:
            self.connecting -= 1
        conn.transport.get_extra_info("socket").setsockopt(6, 1, 1)  # TCP_NODELAY
        self.open += 1
        return conn

    def dispatch(self, intended: float) -> None:
        """Send the request intended for ``intended`` now on an idle connection, or queue it."""
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                self._send(conn, intended)
                return
        self.backlog.append(intended)
        if self.open + self.connecting < self.args.max_connections and self.connecting < len(self.backlog) + 1:
            self.loop.create_task(self._grow())

    async def _grow(self) -> None:
        conn = await self.connect()
        if conn is not None:
            self.release(conn)

    def _send(self, conn: _Conn, intended: float) -> None:
        self.sent += 1
        self.lag.record((time.monotonic() - intended) * 1e6)
        conn.send(intended)

    def release(self, conn: _Conn) -> None:
        if self.backlog and not self.stopping:
            self._send(conn, self.backlog.popleft())
        else:
            self.idle.append(conn)

    def done(self, conn: _Conn, status: int, keep: bool) -> None:
        now = time.monotonic()
        latency_us = (now - conn.intended) * 1e6
        self.completed += 1
        second = int(conn.intended - self.t0)
        row = self.per_second.setdefault(second, [0, 0, 0])
        row[0] += 1
        if status == 0:
            self.transport_errors += 1
            row[1] += 1
        else:
            self.status[status] += 1
            if status >= 400:
                self.errors += 1
                row[1] += 1
            self.hist.record(latency_us)
            row[2] = max(row[2], int(latency_us))
        if keep and status:
            self.release(conn)
        elif conn.transport is not None:
            conn.transport.close()
        if self.all_scheduled and not self.backlog and self.completed >= self.sent:
            self.finished.set()

    def lost(self, conn: _Conn) -> None:
        self.open -= 1
        if conn in self.idle:
            self.idle.remove(conn)
        if self.backlog and not self.stopping and self.open + self.connecting < self.args.max_connections:
            self.loop.create_task(self._grow())

    def in_flight(self) -> int:
        return self.sent - self.completed

    async def run(self) -> dict:
        warm = max(1, min(self.args.max_connections, self.args.connections))
        conns = await asyncio.gather(*(self.connect() for _ in range(warm)))
        self.idle = [c for c in conns if c is not None]
        if not self.idle:
            return self.result(0.0, f"could not open a connection ({self.connect_error})")
        self.transport_errors = 0
        cpu0 = time.process_time()
        self.t0 = time.monotonic() + 0.01
        interval = 1.0 / self.rate
        next_report = 1
        i = 0
        while i < self.total and not self.stopping:
            now = time.monotonic()
            due = min(self.total, int((now - self.t0) / interval) + 1)
            while i < due:
                self.dispatch(self.t0 + i * interval)
                i += 1
            if now - self.t0 >= next_report:
                print(f"open-model {next_report}s sent {self.sent} done {self.completed} "
                      f"in flight {self.in_flight()} conns {self.open} errors {self.errors + self.transport_errors}",
                      flush=True)
                next_report += 1
            if i < self.total and self.pacer is not None:
                await self.pacer.sleep_until(self.t0 + i * interval)
            elif i < self.total:
                # The loop's timers tick in milliseconds: a shorter sleep would spin. Requests due within
                # the next millisecond leave together at the next wake-up (their lateness is measured).
                await asyncio.sleep(max(TICK, self.t0 + i * interval - time.monotonic()))
        scheduled = i
        send_span = time.monotonic() - self.t0 + interval
        self.all_scheduled = True
        if not self.backlog and self.completed >= self.sent:
            self.finished.set()
        try:
            await asyncio.wait_for(self.finished.wait(), timeout=self.args.drain)
        except asyncio.TimeoutError:
            pass
        elapsed = time.monotonic() - self.t0
        cpu = time.process_time() - cpu0
        result = self.result(elapsed, None)
        result["cpu_seconds"] = cpu
        result["scheduled"] = scheduled
        result["send_span"] = send_span
        return result

    def result(self, elapsed: float, error: str | None) -> dict:
        return {
            "url": self.args.url, "method": self.args.method, "rate": self.rate, "duration": self.args.duration,
            "sent": self.sent, "completed": self.completed, "errors": self.errors,
            "transport_errors": self.transport_errors, "unanswered": self.sent - self.completed,
            "backlog": len(self.backlog), "elapsed": elapsed, "connections": self.open,
            "status": {str(k): v for k, v in self.status.items()},
            "histogram": self.hist.to_json(), "send_lag": self.lag.to_json(),
            "per_second": {str(k): v for k, v in sorted(self.per_second.items())}, "error": error,
        }


async def _main(args: argparse.Namespace) -> dict:
    gen = _Generator(args)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        gen.stopping = True
        gen.finished.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    # A collection of the older generations can pause the loop for milliseconds, and every pause
    # makes requests leave late; nothing here builds reference cycles, so collect only afterwards.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        return await gen.run()
    finally:
        gc.enable()
        if gen.pacer is not None:
            gen.pacer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds of sending")
    parser.add_argument("--connections", type=int, default=16, help="connections opened before the start")
    parser.add_argument("--max-connections", type=int, default=1024)
    parser.add_argument("--drain", type=float, default=5.0, help="seconds to wait for the last answers")
    parser.add_argument("--out", required=True, help="JSON result file")
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency, but the generator works without it
        runner = asyncio.run
    result = runner(_main(args))
    with open(args.out, "w") as fh:
        json.dump(result, fh)
    return 0 if result.get("error") is None else 1


if __name__ == "__main__":
    sys.exit(main())
