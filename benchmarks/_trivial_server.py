"""A minimal HTTP/1.1 keep-alive server answering every request with a fixed 200, as fast as Python can.

It exists to measure load generators: a raw asyncio protocol (uvloop when installed)
that counts request heads (``\\r\\n\\r\\n``) in what it reads and writes one canned
response per head; no parsing, no routing, no bodies. With DELAY_MS every answer is sent
that long after its request arrived, a known latency to check a generator's accuracy.

Usage: python benchmarks/_trivial_server.py PORT [DELAY_MS]   (binds 127.0.0.1 only)
"""

from __future__ import annotations

import asyncio
import signal
import sys

BODY = b'{"status":"ok","service":"trivial","version":"1.0.0"}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


class Fixed(asyncio.Protocol):
    delay = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        data = self.tail + data
        heads = data.count(b"\r\n\r\n")
        self.tail = data[data.rfind(b"\r\n\r\n") + 4:] if heads else data
        if len(self.tail) > 65536:
            self.transport.close()
            return
        if not heads:
            return
        if self.delay:
            loop = asyncio.get_running_loop()
            for _ in range(heads):
                loop.call_later(self.delay, self._answer)
        else:
            self.transport.write(RESPONSE * heads)

    def _answer(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)


async def serve(port: int, delay_ms: float = 0.0) -> None:
    Fixed.delay = delay_ms / 1000
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Fixed, "127.0.0.1", port, backlog=2048)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    port = int(sys.argv[1])
    delay_ms = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(port, delay_ms))


if __name__ == "__main__":
    main()
