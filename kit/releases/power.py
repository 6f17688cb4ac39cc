"""How long a ring step must run before its judgment can see the regression that matters.

A canary at weight ``w`` of a service taking ``λ`` requests a second gets ``w·λ`` of them, the baseline
``(1 − w)·λ``. Telling an error ratio ``p₀ + δ`` on the canary from ``p₀ + margin`` (the most the judge
allows, its tolerance) is a one-sided two-proportion test. With Cohen's effect size
``h = 2·asin(√(p₀ + δ)) − 2·asin(√(p₀ + margin))`` (Cohen, *Statistical Power Analysis for the Behavioral
Sciences*, 2nd ed., 1988, §6.2; ``statsmodels.stats.proportion.proportion_effectsize``) and the normal
approximation, the canary needs

    n₁ = ((z₁₋α + z₁₋β) / h)² · (1 + 1/r),   r = n₂/n₁ = (1 − w)/w

requests (``statsmodels.stats.power.NormalIndPower.solve_power`` with ``ratio = r``), so the step lasts
``n₁ / (w·λ)`` seconds. The arcsine transform keeps the formula usable near ``p₀ = 0``, where the
sandbox's healthy shop sits, but there the normal approximation is optimistic: ask for more power than
the catch rate you need (the benchmark measures how far off it is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InvalidInput

# statsmodels is imported in step_duration, where it is used: it costs about a second of CPU, which every process
# importing kit.releases (each `kit` command, kernel and test worker) would otherwise pay whether it plans or not.

__all__ = ["StepPower", "require_step_power", "step_duration"]


@dataclass(frozen=True)
class StepPower:
    """The step length a two-proportion judgment needs, with every input and intermediate number.

    Ratios are shares (0.005 = 0.5 %), ``request_rate`` requests a second across both tracks, ``weight``
    the canary's share of them; ``canary_requests`` and ``baseline_requests`` the sample sizes the test
    needs; ``seconds`` the step length.
    """

    baseline_error_ratio: float
    regression: float
    margin: float
    request_rate: float
    weight: float
    alpha: float
    power: float
    effect_size: float
    canary_requests: float
    baseline_requests: float
    seconds: float


def _share(field: str, value: float, low: float, high: float, example: str, *, low_ok: bool = False) -> None:
    """``value`` strictly between ``low`` and ``high`` (or equal to ``low`` when ``low_ok``), else ``InvalidInput``."""
    if not (isinstance(value, (int, float)) and (low < value or (low_ok and value == low)) and value < high):
        raise InvalidInput(field, f"must be between {low:g} and {high:g} ({example}), got {value!r}")


def step_duration(baseline_error_ratio: float, request_rate: float, weight: float, regression: float, *,
                  alpha: float = 0.05, power: float = 0.8, margin: float = 0.0) -> StepPower:
    """The time a step at ``weight`` must run to detect an error ratio ``regression`` above the baseline's.

    ``baseline_error_ratio`` and ``regression`` are shares (0.005 for +0.5 percentage points);
    ``request_rate`` requests per second over both tracks; ``weight`` the canary's share of them, strictly
    between 0 and 1 (at 100 % nothing is left to compare with); ``alpha`` the one-sided significance,
    ``power`` the chance to catch the regression; ``margin`` the increase the judge tolerates (the
    statistical judge's limit), below ``regression``. Raises ``InvalidInput`` naming the parameter.
    Source: see the module docstring.
    """
    _share("baseline_error_ratio", baseline_error_ratio, 0, 1, "0.001 for 0.1 %", low_ok=True)
    _share("weight", weight, 0, 1, "0.1 for a 10 % ring")
    _share("alpha", alpha, 0, 0.5, "0.05")
    _share("power", power, 0, 1, "0.8")
    _share("margin", margin, 0, 1, "the judge's tolerance, 0.001 for 0.1 percentage point",
           low_ok=True)
    if not (isinstance(request_rate, (int, float)) and math.isfinite(request_rate) and request_rate > 0):
        raise InvalidInput("request_rate", f"must be a positive number of requests per second, got {request_rate!r}")
    if not (isinstance(regression, (int, float)) and margin < regression and baseline_error_ratio + regression < 1):
        raise InvalidInput("regression", f"must be above the margin ({margin:g}) and keep the error ratio below 1, "
                           f"got {regression!r}")
    if power <= alpha:
        raise InvalidInput("power", f"must be above alpha ({alpha:g}), got {power!r}")
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    effect = float(proportion_effectsize(baseline_error_ratio + regression, baseline_error_ratio + margin))
    ratio = (1 - weight) / weight
    canary = float(NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=ratio,
                                                alternative="larger"))
    seconds = canary / (request_rate * weight)
    return StepPower(baseline_error_ratio, regression, margin, request_rate, weight, alpha, power, effect,
                     canary, canary * ratio, seconds)


def require_step_power(step: str, step_seconds: float, baseline_error_ratio: float, request_rate: float,
                       weight: float, regression: float, *, alpha: float = 0.05, power: float = 0.8,
                       margin: float = 0.0) -> StepPower:
    """``step_duration``, raising ``InvalidInput`` with ``step`` as the field when ``step_seconds`` is shorter.

    ``step`` names the step the way the plan spells it (``rings[1].duration``), so a plan runner can
    refuse a plan before it starts; the message gives the length needed and what it was computed from.
    """
    needed = step_duration(baseline_error_ratio, request_rate, weight, regression, alpha=alpha, power=power,
                           margin=margin)
    if not (isinstance(step_seconds, (int, float)) and step_seconds >= needed.seconds):
        raise InvalidInput(step, (
            f"{step_seconds!r} s is too short to see anything: catching +{regression:.2%} errors over a baseline of "
            f"{baseline_error_ratio:.2%} with power {power:g} at one-sided alpha {alpha:g} needs "
            f"{math.ceil(needed.seconds)} s at weight {weight:g} of {request_rate:g} req/s "
            f"({math.ceil(needed.canary_requests)} canary requests); lengthen the step, raise the weight, or "
            "accept a larger regression"))
    return needed
