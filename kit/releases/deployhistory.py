"""A backfilled deploy history with known answers: weeks of a team's releases through the rings, some caught by
the canary, some breaking production and rolled back or fixed forward, flag changes and incidents, generated
from a seed, so a lab has meaningful DORA keys and the tests know what they must be.

The generator decides each release's fate and keeps the answers it implies (``Answers``) on its own, without
kit.releases.dora; the tests assert that ``dora.compute`` finds the same numbers. Releases never overlap (a
release and its aftermath end before the next begins), so every incident's cause is clear by construction:

- healthy (most): deploy at 1 %, promoted to 10, 50 and 100 % every 15 minutes, sometimes paused once on the way;
- caught by the canary: rolled back at 10 %, no incident;
- broke production: an incident after it reached 100 %, sometimes a second overlapping one (one failed
  deployment, not two), then a rollback;
- fixed forward: an incident, then an unplanned hotfix deployment at 100 % that ``fixes`` it (rework), some
  marked P0 (they passed a closed budget gate);
- on a few evenings a flag change followed by an incident (the flag's, no deployment's), and on a few weekends
  an incident with no change in the day before it (nobody's).

Weekdays only for releases, working hours in UTC.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..config import Config, resolve
from ..errors import InvalidInput, KitError
from . import deploylog
from .deploylog import DeployEvent
from .incidents import Incident, write_recorded

DEFAULT_SEED = 20250701
MAX_DAYS = 365
DAY, HOUR, MINUTE = 86400.0, 3600.0, 60.0
STEP = 15 * MINUTE
"""How long each ring runs before the next promotion."""
RINGS = (1, 10, 50, 100)
SHARES = {"caught": 0.05, "rolled_back": 0.05, "fixed": 0.04}
"""Each release's chance of each failure; the rest are healthy."""
RELEASES_PER_DAY = 1.6
"""Mean releases started per weekday (Poisson)."""


@dataclass(frozen=True)
class Answers:
    """What the generated history must give, worked out while generating: counts, and the lead times and recovery
    times (seconds) of the deployments, in deploy order."""

    deployments: int
    failed: int
    rework: int
    lead_times: tuple[float, ...]
    recovery_times: tuple[float, ...]
    incidents: int
    unattributed: int

    @property
    def change_failure_rate(self) -> float:
        return self.failed / self.deployments

    @property
    def rework_rate(self) -> float:
        return self.rework / self.deployments

    @property
    def lead_time(self) -> float:
        return statistics.median(self.lead_times)

    @property
    def recovery_time(self) -> float:
        return statistics.median(self.recovery_times)


@dataclass(frozen=True)
class DeployHistory:
    """A generated history over [``start``, ``end``) (Unix seconds): its deploy log ``events``, its ``incidents``
    and the ``answers`` they must give."""

    start: float
    end: float
    seed: int
    events: tuple[DeployEvent, ...]
    incidents: tuple[Incident, ...]
    answers: Answers


class _Story:
    """The events of one generated history, and the answers, as they are decided."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.events: list[DeployEvent] = []
        self.incidents: list[Incident] = []
        self.lead_times: list[float] = []
        self.recovery_times: list[float] = []
        self.deployments = self.failed = self.rework = self.unattributed = 0
        self.patch = 0

    def version(self) -> str:
        self.patch += 1
        return f"1.{self.patch // 10}.{self.patch % 10}"

    def commit(self) -> str:
        return self.rng.bytes(4).hex()

    def event(self, kind: str, version: str, commit: str, commit_time: float, at: float, reason: str, **extra) -> None:
        actor = "release-bot" if kind in ("deploy", "promote", "pause") else "on-call"
        self.events.append(DeployEvent(kind, version, commit, commit_time, at, extra.pop("actor", actor), reason,
                                       **extra))

    def release(self, t: float) -> float:
        """One release starting at ``t``; returns when it and its aftermath are over."""
        rng, version, commit = self.rng, self.version(), self.commit()
        committed = t - min(float(rng.lognormal(np.log(4 * HOUR), 0.8)), 5 * DAY)
        self.deployments += 1
        fate = rng.choice(["healthy", *SHARES], p=[1 - sum(SHARES.values()), *SHARES.values()])
        self.event("deploy", version, commit, committed, t, "release plan: rings 1-10-50-100", weight=RINGS[0])
        if fate == "caught":
            self.event("promote", version, commit, committed, t + STEP, "judge passed at 1 %", weight=RINGS[1])
            self.event("rollback", version, commit, committed, t + STEP + 5 * MINUTE, "judge failed at 10 %",
                       actor="release-bot")
            self.failed += 1
            self.recovery_times.append(STEP + 5 * MINUTE)
            return t + STEP + 5 * MINUTE
        now = t
        for weight in RINGS[1:]:
            now += STEP
            if weight == 50 and fate == "healthy" and rng.random() < 0.1:
                self.event("pause", version, commit, committed, now, "judge inconclusive at 10 %")
                now += STEP
            self.event("promote", version, commit, committed, now, "judge passed", weight=weight)
        self.lead_times.append(now - committed)
        if fate == "healthy":
            return now
        self.failed += 1
        began = now + float(rng.uniform(10 * MINUTE, 2 * HOUR))
        if fate == "rolled_back":
            rolled = began + float(rng.uniform(15 * MINUTE, HOUR))
            self.incidents.append(Incident("recorded", f"errors after {version}", began, rolled + 5 * MINUTE))
            if rng.random() < 0.5:  # a second alert on the same failure: still one failed deployment
                self.incidents.append(Incident("recorded", f"latency after {version}", began + 5 * MINUTE, rolled))
            self.event("rollback", version, commit, committed, rolled, "errors in production")
            self.recovery_times.append(rolled - began)
            return rolled + 10 * MINUTE
        fixed = began + float(rng.uniform(30 * MINUTE, 2 * HOUR))
        self.incidents.append(Incident("recorded", f"bug in {version}", began, fixed + 2 * MINUTE))
        hotfix, hotfix_commit = self.version(), self.commit()
        hotfix_committed = fixed - float(rng.uniform(10 * MINUTE, 40 * MINUTE))
        self.event("deploy", hotfix, hotfix_commit, hotfix_committed, fixed, f"hotfix for {version}", weight=100,
                   fixes=version, exemption="P0" if rng.random() < 0.5 else None, actor="on-call")
        self.deployments += 1
        self.rework += 1
        self.lead_times.append(fixed - hotfix_committed)
        self.recovery_times.append(fixed - began)
        return fixed + 10 * MINUTE

    def flag_incident(self, t: float) -> None:
        version = self.events[-1].version if self.events else "1.0.0"
        commit, committed = (self.events[-1].commit, self.events[-1].commit_time) if self.events else ("0" * 8, t)
        self.event("flag", version, commit, committed, t, "enable the new recommendations", flag="recommendations",
                   flag_state="on", actor="product")
        self.incidents.append(Incident("recorded", "catalog errors after a flag change", t + 10 * MINUTE, t + 25 * MINUTE))
        self.event("flag", version, commit, committed, t + 20 * MINUTE, "kill switch", flag="recommendations",
                   flag_state="off", actor="on-call")
        self.unattributed += 1


def _validate(days, seed) -> tuple[float, int]:
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput("days", f"{days!r} must be a number of days from 1 to {MAX_DAYS}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInput("seed", f"{seed!r} must be a whole number of 0 or more")
    return float(days), int(seed)


def generate(days: float = 90, end: float | None = None, *, seed: int = DEFAULT_SEED) -> DeployHistory:
    """A deploy history of ``days`` ending at ``end`` (Unix seconds; default now), from ``seed``; the same
    arguments give the same history. Raises InvalidInput for days outside 1 to ``MAX_DAYS`` or a negative seed."""
    days, seed = _validate(days, seed)
    end = time.time() if end is None else float(end)
    start = end - days * DAY
    rng = np.random.default_rng(seed)
    story = _Story(rng)
    first_day = int(start // DAY) + 1
    for day in range(first_day, int(end // DAY)):
        midnight = day * DAY
        weekday = datetime.fromtimestamp(midnight, tz=timezone.utc).weekday()
        if weekday >= 5:
            if weekday == 6 and rng.random() < 0.25:
                began = midnight + 3 * HOUR
                story.incidents.append(Incident("recorded", "payments provider outage", began, began + 40 * MINUTE))
                story.unattributed += 1
            continue
        cursor = midnight + 9 * HOUR
        for offset in sorted(rng.uniform(0, 8 * HOUR, rng.poisson(RELEASES_PER_DAY))):
            cursor = story.release(max(cursor, midnight + 9 * HOUR + float(offset)))
        if rng.random() < 0.05:
            story.flag_incident(max(cursor, midnight + 19 * HOUR))
    answers = Answers(story.deployments, story.failed, story.rework, tuple(story.lead_times),
                      tuple(story.recovery_times), len(story.incidents), story.unattributed)
    return DeployHistory(start, end, seed, tuple(story.events), tuple(sorted(story.incidents, key=lambda i: i.start)),
                         answers)


@dataclass(frozen=True)
class BackfillResult:
    """What ``backfill`` wrote: the history, and the deploy log and incidents files it went to."""

    history: DeployHistory
    log: Path
    incidents: Path


def backfill(days: float = 90, *, seed: int = DEFAULT_SEED, end: float | None = None, replace: bool = False,
             config: Config | None = None) -> BackfillResult:
    """Write a generated history into the state folder: its deploy log and its recorded incidents.

    A deploy log that already holds events is kept unless ``replace`` (the backfill would mix with a team's real
    releases): raises KitError saying so. With ``replace`` both files are replaced whole.
    """
    paths = resolve(config).paths
    if deploylog.read(paths.deploy_log) and not replace:
        raise KitError(f"{paths.deploy_log} already holds deploy events; pass --replace (replace=True) to put a "
                       "backfilled history in their place")
    history = generate(days, end, seed=seed)
    paths.releases.mkdir(parents=True, exist_ok=True)
    if replace:
        paths.deploy_log.unlink(missing_ok=True)
    deploylog.append(history.events, paths.deploy_log)
    write_recorded(history.incidents, paths.recorded_incidents)
    return BackfillResult(history, paths.deploy_log, paths.recorded_incidents)
