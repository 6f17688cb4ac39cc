"""Light background traffic, so every SLI has data even when nobody sends requests.

It walks a fixed weighted cycle of shop journeys at a steady rate (open
model: a slow response does not delay the next request), so the same
faults give the same error ratios on every run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time

import httpx

from .model import ROUTES

# catalog 40 %, product 30 %, checkout 30 %, interleaved.
CYCLE = ("catalog", "product", "checkout", "catalog", "product", "checkout",
         "catalog", "product", "checkout", "catalog")


async def _one(client: httpx.AsyncClient, journey: str, product: str) -> None:
    method, path, body = ROUTES[journey].request(product)
    try:
        await client.request(method, path, json=body)
    except httpx.HTTPError:
        pass  # failures are what the sandbox measures; the generator carries on


async def _product_ids(client: httpx.AsyncClient) -> list[str]:
    """Browse the catalog once, as a visitor would, to learn what there is to buy."""
    while True:
        try:
            response = await client.get(ROUTES["catalog"].path)
            if response.status_code == 200:
                return [item["id"] for item in response.json()]
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)


async def run(shop_url: str, rps: float, duration: float | None = None) -> None:
    interval = 1.0 / rps
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=shop_url, timeout=5.0, limits=limits) as client:
        products = await _product_ids(client)
        start = time.monotonic()
        tasks: set[asyncio.Task] = set()
        for n, journey in enumerate(itertools.cycle(CYCLE)):
            due = start + n * interval
            if duration is not None and due - start >= duration:
                break
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(_one(client, journey, products[n % len(products)]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kit.shop.traffic", description="steady background traffic")
    parser.add_argument("--shop", required=True, help="base URL of the shop")
    parser.add_argument("--rps", type=float, default=8.0)
    parser.add_argument("--duration", type=float, default=None, help="seconds (default: until stopped)")
    args = parser.parse_args(argv)
    if args.rps <= 0:
        parser.error("--rps must be positive")
    try:
        asyncio.run(run(args.shop, args.rps, args.duration))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
