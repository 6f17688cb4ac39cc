"""Locust scenario of the shop, run only by ``kit.load`` in a subprocess (``python -m locust -f``).

Never import this module from the kit or a kernel: importing locust monkey-patches the
standard library with gevent. ``kit.load`` passes its settings through environment
variables, all optional:

``KIT_LOAD_ROUTE``   one route name (catalog, product, checkout, health): every user hits
                     only that route, back to back (a closed loop); unset: shop journeys
``KIT_LOAD_WAIT``    "min,max" seconds between a journey's tasks (default "0.5,1.5";
                     single-route users default to "0,0")
``KIT_LOAD_STAGES``  JSON list of [end_second, users, spawn_rate]: a step or ramp shape
"""

from __future__ import annotations

import json
import os
import random

import locust.stats
from locust import LoadTestShape, between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

from kit.shop import PRODUCT_IDS, REQUESTS  # absolute: locust loads this file by its path, outside the package
from kit.shop import ROUTES as SHOP
from kit.shop.model import USER_HEADER, USERS, user_key

locust.stats.CSV_STATS_INTERVAL_SEC = 1
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 1  # kit.load follows the history file for progress
_CATALOG = SHOP["catalog"].path

_ROUTE = os.environ.get("KIT_LOAD_ROUTE") or None


def _wait(default: str):
    low, high = (float(x) for x in (os.environ.get("KIT_LOAD_WAIT") or default).split(","))
    return constant(low) if low == high else between(low, high)


if _ROUTE is None:

    class ShopUser(FastHttpUser):
        """A shopper (one of ``USERS``, named in every request for flag rollouts): mostly browsing, sometimes a
        product page, now and then a purchase."""

        wait_time = _wait("0.5,1.5")

        def on_start(self) -> None:
            self.headers = {USER_HEADER: user_key(random.randrange(USERS))}
            self.ids = list(PRODUCT_IDS)
            with self.client.get(_CATALOG, name=_CATALOG, headers=self.headers, catch_response=True) as response:
                if response.status_code == 200:
                    try:
                        self.ids = [item["id"] for item in response.json()] or self.ids
                    except (ValueError, KeyError, TypeError):
                        response.failure("catalog is not a list of products")

        def _view(self) -> str:
            product = random.choice(self.ids)
            self.client.get(SHOP["product"].path.format(product_id=product), name=SHOP["product"].path,
                            headers=self.headers)
            return product

        @task(6)
        def browse(self) -> None:
            self.client.get(_CATALOG, name=_CATALOG, headers=self.headers)
            for _ in range(random.randint(0, 2)):
                self._view()

        @task(3)
        def view_product(self) -> None:
            self._view()

        @task(1)
        def buy(self) -> None:
            product = self._view()
            method, path, body = SHOP["checkout"].request(product)
            self.client.request(method, path, json=body, name=path, headers=self.headers)

else:
    _METHOD, _PATH, _BODY = REQUESTS[_ROUTE]

    class RouteUser(FastHttpUser):
        """One route, again and again, as one of ``USERS``: the closed loop of classic load tools."""

        wait_time = _wait("0,0")

        def on_start(self) -> None:
            self.headers = {USER_HEADER: user_key(random.randrange(USERS))}

        @task
        def hit(self) -> None:
            if _METHOD == "GET":
                self.client.get(_PATH, name=_PATH, headers=self.headers)
            else:
                self.client.post(_PATH, json=_BODY, name=_PATH, headers=self.headers)


_answered = 0


@events.request.add_listener
def _count_answer(response=None, **_kwargs) -> None:
    """Requests that got an HTTP answer, whatever its status; a refused or reset connection has status 0."""
    global _answered
    if getattr(response, "status_code", 0):
        _answered += 1


@events.quitting.add_listener
def _write_answers(**_kwargs) -> None:
    """kit.load reads these (one file per process, workers included) to tell a result from a measurement of nothing."""
    folder = os.environ.get("KIT_LOAD_ANSWERS")
    if folder:
        with open(os.path.join(folder, f"answered-{os.getpid()}"), "w") as fh:
            fh.write(str(_answered))


_STAGES = json.loads(os.environ.get("KIT_LOAD_STAGES") or "null")

if _STAGES:

    class StagesShape(LoadTestShape):
        """Users and spawn rate by elapsed time, from kit.load's Step or Ramp; stops after the last stage."""

        stages = [(float(end), int(users), float(rate)) for end, users, rate in _STAGES]

        def tick(self):
            elapsed = self.get_run_time()
            for end, users, rate in self.stages:
                if elapsed < end:
                    return users, rate
            return None
