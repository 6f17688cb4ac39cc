"""A drill's timeline as data: its events, the milestones in it and the four response times.

Pure (no files, no sandbox), so the drill itself, its console, the postmortem draft and the grader all read
the same timeline the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class Event:
    """One line of the timeline."""

    t: float
    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def when(self) -> datetime:
        return datetime.fromtimestamp(self.t, tz=timezone.utc)


@dataclass(frozen=True)
class ResponseTimes:
    """When each milestone happened (unix seconds) and the four response times derived from them, in seconds
    (None until both of a time's milestones are on the timeline).

    The incident-response measures as the field names them (TTD, TTA, TTM, TTR; their means over many
    incidents are the MTTD, MTTA, MTTM and MTTR of incident reports). Each runs from the first injection,
    except the time to acknowledge, which runs from the page, as the on-call engineer lives it.
    """

    injected_at: float | None = None
    detected_at: float | None = None
    paged_at: float | None = None
    acknowledged_at: float | None = None
    mitigated_at: float | None = None
    resolved_at: float | None = None

    @property
    def ttd(self) -> float | None:
        """Time to detect: first injection to the first alert firing or page."""
        return _between(self.injected_at, self.detected_at)

    @property
    def tta(self) -> float | None:
        """Time to acknowledge: the page (or the detection) to the acknowledgement."""
        return _between(self.paged_at or self.detected_at, self.acknowledged_at)

    @property
    def ttm(self) -> float | None:
        """Time to mitigate: first injection to the action that fixed it."""
        return _between(self.injected_at, self.mitigated_at)

    @property
    def ttr(self) -> float | None:
        """Time to resolve: first injection to the steady state holding again."""
        return _between(self.injected_at, self.resolved_at)

    def as_dict(self) -> dict[str, float | None]:
        return {"ttd_s": self.ttd, "tta_s": self.tta, "ttm_s": self.ttm, "ttr_s": self.ttr}


def _between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else round(end - start, 3)


def response_times(events: list[Event]) -> ResponseTimes:
    """The milestones of a timeline and its response times; pure, so the console, the postmortem and the
    grader agree."""
    injected = next((e.t for e in events if e.kind == "injected"), None)
    after = [e for e in events if injected is not None and e.t >= injected]
    detected = next((e.t for e in after if e.kind in ("alert_firing", "page") and e.data.get("status") == "firing"),
                    None)
    notified = [e for e in after if e.kind == "page" and e.data.get("status") == "firing"]
    # a ticket that happens to arrive first is not what the on-call engineer acknowledges
    paged = next((e.t for e in notified if e.data.get("severity") == "page"), notified[0].t if notified else None)
    acked = next((e.t for e in after if e.kind == "acknowledged"), None)
    resolved = next((e.t for e in after if e.kind == "resolved"), None)
    cutoff = resolved if resolved is not None else float("inf")
    actions = [e.t for e in after if e.kind == "action" and e.t <= cutoff]
    return ResponseTimes(injected, detected, paged, acked, actions[-1] if actions else None, resolved)


Figures = ResponseTimes
"""The older name of ``ResponseTimes``, kept for notebooks written with it."""
figures = response_times
"""The older name of ``response_times``, kept for notebooks written with it (lab 06 once called
``drills.figures``)."""


def clock(seconds: float) -> str:
    """Seconds as m:ss (h:mm:ss past an hour), the way a timeline reads."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
