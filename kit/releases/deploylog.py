"""The deploy log: every change to what production runs, one JSON line each, only ever appended.

The DORA keys are computed from this file, so it must survive crashes and concurrent writers (a release run
and a person flipping a flag at the same moment) and must never be silently misread:

- appending takes an exclusive lock on the file itself, cuts off a piece of a line that a crash left without
  its newline, writes the new lines in one write and syncs them; a reader sees whole lines or nothing new;
- reading validates every line and names the file, the line number and the field that is wrong, so a
  damaged log stops the report instead of skewing it. A last line without its newline is a write still under
  way and is left out.

An event (``DeployEvent``) is one of ``KINDS``. Times are Unix seconds; ``weight`` is the percentage of
production traffic the version serves after the event.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import jsonlines
from ..config import Config, resolve
from ..errors import InvalidInput

KINDS = ("deploy", "promote", "pause", "rollback", "flag", "exempt")
"""deploy: a version starts serving production traffic (at ``weight`` %, a first ring or 100);
promote: its weight is raised (100 = every user); pause: a release stops where it is (an inconclusive judgment);
rollback: the version stops serving (weight 0) and the previous one serves again; flag: a feature flag changed
(``flag`` and ``flag_state``) on the running ``version``; exempt: ``version`` passed a closed error-budget gate
on an ``exemption`` (kit.releases.gate), changing no weight; the DORA keys do not count it (kit.releases.dora)."""

EXEMPTIONS = ("P0", "security")
"""Why a release may pass a closed error-budget gate, as an error budget policy allows; recorded with the event."""

FIELDS = ("kind", "version", "commit", "commit_time", "at", "actor", "reason", "exemption", "weight", "fixes",
          "flag", "flag_state")


@dataclass(frozen=True)
class DeployEvent:
    """One line of the deploy log.

    ``version``: the shop version the event is about; ``commit``: its commit id; ``commit_time``: when that
    commit was made (Unix seconds; the start of its lead time); ``at``: when the event happened (Unix seconds);
    ``actor``: who or what did it; ``reason``: why, in words; ``exemption``: one of ``EXEMPTIONS`` when the
    release passed a closed budget gate, else None; ``weight``: % of traffic the version serves after the event
    (deploy and promote: 0 < weight <= 100; rollback: 0; None for pause and flag); ``fixes``: on a deploy, the
    version whose failure in production it fixes (an unplanned deployment, counted as rework), else None;
    ``flag``/``flag_state``: the flag changed and its new state ("on", "off", a rollout such as "25%", "killed",
    or a variant), flag events only; kit.releases.flags writes them.
    """

    kind: str
    version: str
    commit: str
    commit_time: float
    at: float
    actor: str
    reason: str = ""
    exemption: str | None = None
    weight: float | None = None
    fixes: str | None = None
    flag: str | None = None
    flag_state: str | None = None

    def __post_init__(self) -> None:
        validate(asdict(self))

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _text(data: dict, name: str, *, required: bool = True) -> None:
    value = data.get(name)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(name, f"must be a non-empty string, got {value!r:.60}")


def _moment(data: dict, name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise InvalidInput(name, f"must be Unix seconds (a number of 0 or more), got {value!r:.60}")
    return float(value)


def validate(data: Any) -> dict[str, Any]:
    """Check one event given as a mapping (a parsed log line); returns it. Raises InvalidInput naming the field:
    an unknown kind or field, a missing or empty text, a time that is not Unix seconds, a commit made after the
    event, a weight out of range for the kind, an exemption not in ``EXEMPTIONS`` (or none on an exempt event), fixes
    or flag on the wrong kind.
    """
    if not isinstance(data, dict):
        raise InvalidInput("line", f"must be a JSON object (one event), got {type(data).__name__}")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidInput(unknown[0], f"is not a field of a deploy event; the fields are {', '.join(FIELDS)}")
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidInput("kind", f"{kind!r:.40} is not one of {', '.join(KINDS)}")
    for name in ("version", "commit", "actor"):
        _text(data, name)
    if not isinstance(data.get("reason", ""), str):
        raise InvalidInput("reason", f"must be a string, got {data['reason']!r:.60}")
    commit_time, at = _moment(data, "commit_time"), _moment(data, "at")
    if commit_time > at:
        raise InvalidInput("commit_time", f"{commit_time} is after the event ({at}): a commit cannot run before it exists")
    exemption = data.get("exemption")
    if exemption is not None and exemption not in EXEMPTIONS:
        raise InvalidInput("exemption", f"{exemption!r:.40} is not one of {', '.join(EXEMPTIONS)} (or null)")
    if kind == "exempt" and exemption is None:
        raise InvalidInput("exemption", f"an exempt event records which exemption was used: {', '.join(EXEMPTIONS)}")
    weight = data.get("weight")
    if kind in ("deploy", "promote"):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight <= 100:
            raise InvalidInput("weight", f"a {kind} needs the % of traffic it serves, more than 0 up to 100; got {weight!r:.40}")
    elif kind == "rollback":
        if weight not in (None, 0):
            raise InvalidInput("weight", f"a rollback leaves the version 0 % of traffic; got {weight!r:.40}")
    elif weight is not None:
        raise InvalidInput("weight", f"a {kind} changes no weight; leave it out")
    if data.get("fixes") is not None:
        if kind != "deploy":
            raise InvalidInput("fixes", f"only a deploy fixes a version; a {kind} cannot")
        _text(data, "fixes")
    if kind == "flag":
        _text(data, "flag")
        _text(data, "flag_state")
    else:
        for name in ("flag", "flag_state"):
            if data.get(name) is not None:
                raise InvalidInput(name, f"only a flag event names a flag; a {kind} cannot")
    return data


def _event(data: dict) -> DeployEvent:
    values = {**data, "commit_time": float(data["commit_time"]), "at": float(data["at"])}
    if values.get("weight") is not None:
        values["weight"] = float(values["weight"])
    return DeployEvent(**values)


def log_path(config: Config | None = None) -> Path:
    """The deploy log of ``config``'s state folder."""
    return resolve(config).paths.deploy_log


def append(events: Iterable[DeployEvent], path: Path | None = None, *, config: Config | None = None) -> int:
    """Append ``events`` to the log (``path``, or the state folder's) in one locked, synced write; their count.

    Safe against other writers (processes or threads): see kit.jsonlines. Raises KitError when the log cannot
    be written.
    """
    return jsonlines.append(path or log_path(config), (e.as_json() for e in events),
                            hint="is KIT_STATE_DIR writable?")


def parse(text: str, source: str = "") -> list[DeployEvent]:
    """The events in the text of a log, oldest line first. A piece after the last newline is left out (a write
    under way). Raises InvalidInput with ``source:LINE`` and the field of the first bad line."""
    events = []
    for where, data in jsonlines.lines(text, source or "line"):
        try:
            events.append(_event(validate(data)))
        except InvalidInput as error:
            raise InvalidInput(error.field, error.problem, source=where) from None
    return events


def read(path: Path | None = None, *, config: Config | None = None) -> list[DeployEvent]:
    """Every event of the log (``path``, or the state folder's), in the order written; [] if there is none.

    Raises InvalidInput naming ``file:line`` and the field when a line is damaged (move the file aside or fix
    that line), KitError when the file cannot be read.
    """
    path = path or log_path(config)
    return parse(jsonlines.read_text(path), str(path))


def in_order(events: Sequence[DeployEvent]) -> list[DeployEvent]:
    """Events by time; events at the same moment keep the order they were written in."""
    return sorted(events, key=lambda e: e.at)
