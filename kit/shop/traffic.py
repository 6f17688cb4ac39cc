"""Light background traffic, so every SLI has data even when nobody sends requests.

It walks a fixed weighted cycle of shop journeys at a steady rate (open
model: a slow response does not delay the next request), so the same
faults give the same error ratios on every run. Each request names a user
(``USER_HEADER``), the n-th request the n-th of ``USERS`` keys in turn, so a
flag rolled out to 25 % reaches a steady quarter of the traffic.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from concurrent.futures import ThreadPoolExecutor

import urllib3

from .model import ROUTES, USER_HEADER, user_key

# catalog 40 %, product 30 %, checkout 30 %, interleaved.
CYCLE = ("catalog", "product", "checkout", "catalog", "product", "checkout",
         "catalog", "product", "checkout", "catalog")

_IN_FLIGHT = 64
"""Requests that may wait on a slow shop at once: the open model holds while fewer than these are stuck."""


def _one(pool: urllib3.PoolManager, shop_url: str, journey: str, product: str, user: str) -> None:
    method, path, body = ROUTES[journey].request(product)
    headers = {USER_HEADER: user} | ({"Content-Type": "application/json"} if body is not None else {})
    try:
        pool.request(method, shop_url + path, body=None if body is None else json.dumps(body), headers=headers)
    except urllib3.exceptions.HTTPError:
        pass  # failures are what the sandbox measures; the generator carries on


def _product_ids(pool: urllib3.PoolManager, shop_url: str) -> list[str]:
    """Browse the catalog once, as a visitor would, to learn what there is to buy."""
    while True:
        try:
            response = pool.request("GET", shop_url + ROUTES["catalog"].path)
            if response.status == 200:
                return [item["id"] for item in response.json()]
        except (urllib3.exceptions.HTTPError, ValueError):
            pass
        time.sleep(0.2)


def run(shop_url: str, rps: float, duration: float | None = None) -> None:
    """Send the cycle's requests at ``rps`` per second (for ``duration`` seconds, or until stopped).

    Each request is handed to a thread at its due time, whether or not earlier ones have been answered.
    urllib3 in threads rather than an asyncio HTTP client: at a few requests a second httpx's client took
    more CPU than the shop serving them, in every sandbox, all the time (2.2 % of a core against 1.8 %).
    """
    interval = 1.0 / rps
    pool = urllib3.PoolManager(maxsize=_IN_FLIGHT, retries=False, timeout=urllib3.Timeout(total=5.0))
    with ThreadPoolExecutor(_IN_FLIGHT, thread_name_prefix="traffic") as threads:
        products = _product_ids(pool, shop_url)
        start = time.monotonic()
        for n, journey in enumerate(itertools.cycle(CYCLE)):
            due = start + n * interval
            if duration is not None and due - start >= duration:
                break
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            threads.submit(_one, pool, shop_url, journey, products[n % len(products)], user_key(n))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kit.shop.traffic", description="steady background traffic")
    parser.add_argument("--shop", required=True, help="base URL of the shop")
    parser.add_argument("--rps", type=float, default=8.0)
    parser.add_argument("--duration", type=float, default=None, help="seconds (default: until stopped)")
    args = parser.parse_args(argv)
    if args.rps <= 0:
        parser.error("--rps must be positive")
    try:
        run(args.shop.rstrip("/"), args.rps, args.duration)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
