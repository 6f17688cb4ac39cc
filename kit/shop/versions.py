"""The shop's release history: every version a canary can deploy, what it does differently, and its commit.

Versions are data, so a lab, a judge's test and the service read one table. Each one's behaviour is a
change on top of the simulated capacity (``kit.shop.service``): a share of business requests failing,
milliseconds added. The commit and its timestamp make lead time for changes real: a version's lead time
is from its commit to the moment it is promoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import InvalidInput
from ..metrics import BAD_VERSION, VERSION

BAD_DEPLOY_CHECKOUT_FAILURES = 1 / 3
"""Share of checkouts version 2.0.0 fails. A broken code path fails a whole kind of checkout (here one in
three, say one payment method of three), and background traffic brings ~2.4 checkouts a second: the first
failure, which no alert can beat, comes ~1.25 s after the deploy on average (at 8 % it took 5.2 s, and one
deploy in ten waited over 12 s)."""
BAD_DEPLOY_PRODUCT_MS = 80.0
"""Milliseconds 2.0.0 adds to every product page."""


@dataclass(frozen=True)
class ShopVersion:
    """One release of the shop: its commit and what it changes on business routes (catalog, product, checkout).

    ``extra_error_ratio`` (0.005 = 0.5 %) of every business request fails with 500; ``checkout_failure_ratio`` of
    checkouts fail with 500; ``extra_ms`` is added to every business request's service time, ``product_extra_ms``
    to product pages only. The same fields as ``kit.releases.simulate.VersionShape``, which judges are tested on.
    """

    version: str
    commit: str
    committed_at: datetime
    summary: str
    extra_error_ratio: float = 0.0
    checkout_failure_ratio: float = 0.0
    extra_ms: float = 0.0
    product_extra_ms: float = 0.0

    @property
    def healthy(self) -> bool:
        return not (self.extra_error_ratio or self.checkout_failure_ratio or self.extra_ms or self.product_extra_ms)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


VERSIONS: dict[str, ShopVersion] = {v.version: v for v in (
    ShopVersion(VERSION, "4b1d6e0a9c37", _utc("2026-10-05T09:12:40"), "the shop as the labs know it"),
    ShopVersion("1.1.0", "8e2f41c07d95", _utc("2026-11-02T14:03:11"), "healthy: tidier catalog code, same behaviour"),
    ShopVersion("1.2.0", "c5a7093be214", _utc("2026-11-16T10:47:58"),
                "subtle regression: a retry removed, 0.5 % of business requests fail", extra_error_ratio=0.005),
    ShopVersion("1.3.0", "f03c8d5e6a21", _utc("2026-11-23T16:20:05"),
                "subtle regression: an extra lookup adds 30 ms to every business request", extra_ms=30.0),
    ShopVersion(BAD_VERSION, "2d9e6b7f1a48", _utc("2026-11-27T11:58:32"),
                "known bad: a third of checkouts fail and product pages are 80 ms slower",
                checkout_failure_ratio=BAD_DEPLOY_CHECKOUT_FAILURES, product_extra_ms=BAD_DEPLOY_PRODUCT_MS),
)}
"""Every version, oldest first. 1.0.0 is the stable shop every sandbox starts with."""

TRACKS: tuple[str, ...] = ("stable", "canary")
"""Where a shop process runs: the stable one every sandbox has, or a canary beside it (``kit release deploy``)."""


def shop_version(version: str) -> ShopVersion:
    """The version called ``version``; InvalidInput naming the known ones otherwise."""
    found = VERSIONS.get(version)
    if found is None:
        raise InvalidInput("version", f"the shop has no version {version!r}; its versions: {', '.join(VERSIONS)}")
    return found
