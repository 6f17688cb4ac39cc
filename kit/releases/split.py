"""The traffic split as measured: the share of requests the proxy gave the canary, against the weight it was set to.

Pure: counts in, a result out. The proxy draws a server for every request independently, with probability
weight / sum of weights (HAProxy ``balance random(1)``), so the canary's count over ``n`` requests is
binomial, ``B(n, p)`` with ``p`` the set share. The tolerance is ``z`` standard deviations of that share,
``z * sqrt(p (1 - p) / n)``; at ``z = 4`` a correct split falls outside it about 6 times in 100,000 checks
(two-sided normal tail), so a test that fails means a wrong split, not bad luck. At 0 % and 100 % the
split is exact: no request may go the other way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InvalidInput

__all__ = ["SPLIT_Z", "SplitMeasurement"]

SPLIT_Z = 4.0
"""Standard deviations of the binomial share a measured split may be off by (two-sided tail ~6e-5)."""


@dataclass(frozen=True)
class SplitMeasurement:
    """Requests the stable shop and the canary got over one interval, and the canary's weight meanwhile (0-100 %)."""

    stable_requests: int
    canary_requests: int
    weight_percent: float

    def __post_init__(self) -> None:
        if self.stable_requests < 0 or self.canary_requests < 0:
            raise InvalidInput("requests", "request counts cannot be negative (a counter reset: measure again)")
        if not 0 <= self.weight_percent <= 100:
            raise InvalidInput("weight_percent", f"{self.weight_percent} is not a percentage from 0 to 100")

    @property
    def requests(self) -> int:
        return self.stable_requests + self.canary_requests

    @property
    def share(self) -> float:
        """The canary's measured share of requests, 0-1; NaN when no request came."""
        return self.canary_requests / self.requests if self.requests else math.nan

    @property
    def expected_share(self) -> float:
        return self.weight_percent / 100

    def tolerance(self, z: float = SPLIT_Z) -> float:
        """How far the share may be from the weight by chance: ``z`` binomial standard deviations (0 at 0 % and 100 %)."""
        p = self.expected_share
        return z * math.sqrt(p * (1 - p) / self.requests) if self.requests else math.inf

    def agrees(self, z: float = SPLIT_Z) -> bool:
        """True when the measured share is within ``tolerance(z)`` of the set weight; False when no request came."""
        return bool(self.requests) and abs(self.share - self.expected_share) <= self.tolerance(z)
