"""Chaos Day: several mobs drill at the same time, each on a sandbox of its own, with one scoreboard for the room
and a joint debrief at the end (guide/chaos-day.md; seed 003's ceremony).

A Chaos Day is a plan file, one YAML document::

    title: Spring Chaos Day
    start: 2026-04-01 09:30          # when round 1 starts (local time); drills started before it are rehearsals
    round_minutes: 45                 # each round's time box, the mob's own short debrief included
    secret: true                      # the mobs do not see their scenario while they drill
    mobs:
      - team: mob-a                   # a team in community/teams
        game_master: hana             # a member who is not in the mob
        scenarios: [payments-down, random]   # one per round; random spins the wheel
      - team: mob-b
        game_master: dana
        scenarios: [payments-down, bad-deploy]

and optionally ``profile`` (the sandboxes' timing, default lab), ``sandboxes`` (the folder that holds each mob's
state folder, default beside the kit's own state folder) and ``ports`` (the range the mobs' port blocks are drawn
from, default 28000-32767).

Each mob's sandbox is a state folder of its own (``<sandboxes>/<team>``) with a block of ports of its own, drawn
from a registry file in the sandboxes' folder exactly as the hub gives each learner theirs (kit.hub.ports): two
mobs never share a port or a state folder, and a mob keeps its ports from one `up` to the next. A mob's
terminal works on its own sandbox with the variables ``mob_environment`` gives (`kit ceremony chaos-day env`).

The scoreboard is read from each sandbox's own drill files, whoever started the drill (`kit ceremony chaos-day
start`, or the game master's `kit drill start` in the mob's terminal): the n-th drill a mob started since the
plan's start is its round n. Finished drills become sessions in community/sessions (``record_sessions``), with
``drill_run`` naming the run and ``drill_results`` the mob's sandbox's results file that holds it, which is how
drills reach the league.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .. import jsonlines, yamldocs
from ..config import PROFILES, Config, ContentPaths, StatePaths
from ..errors import InvalidInput
from ..timeline import Event, clock, response_times
from ..validation import Document, validated
from . import records as community

__all__ = ["DEBRIEF_QUESTIONS", "DEFAULT_PORTS", "RANDOM", "STATES", "Best", "BoardRow", "ChaosDayPlan", "MobDrill",
           "PlannedMob", "Scoreboard", "debrief", "down", "gather", "load_plan", "mob_config", "mob_environment",
           "record_sessions", "scenario_questions", "scoreboard", "start_round", "up", "watch"]

RANDOM = "random"
"""A round's scenario that is spun on the wheel when the round starts (`kit drill start --random`)."""

DEBRIEF_QUESTIONS = (
    "Which signal would have shortened every mob's time to detect?",
    "Which runbook was missing or wrong for more than one mob?",
    "What will we change before the next Chaos Day, and who owns each change?",
)
"""The questions guide/chaos-day.md closes the joint debrief with."""

DEFAULT_PORTS = "28000-32767"
"""Where the mobs' port blocks come from unless the plan says: above the hub's first learners (24000 on) and
below Linux's ephemeral range."""

STATES = ("waiting", "running", "resolved", "abandoned", "unfinished")
"""A round of a mob, as the scoreboard shows it: not started yet, running, ended one way or the other, or
started but neither running nor ended (its sandbox was stopped before `kit drill end`)."""

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class PlannedMob:
    """One mob of the day: its team's id, its game master's handle (or None) and a scenario per round."""

    team: str
    game_master: str | None
    scenarios: tuple[str, ...]


@dataclass(frozen=True)
class ChaosDayPlan:
    """A Chaos Day as its plan file states it, validated; ``sandboxes`` is resolved to an absolute folder."""

    title: str
    start: datetime
    round_minutes: int
    secret: bool
    profile: str
    sandboxes: Path
    ports: tuple[int, int]
    mobs: tuple[PlannedMob, ...]
    source: str

    @property
    def rounds(self) -> int:
        return len(self.mobs[0].scenarios)

    def mob(self, team: str) -> PlannedMob:
        """The mob of ``team``; InvalidInput("team") when the plan has none."""
        for mob in self.mobs:
            if mob.team == team:
                return mob
        raise InvalidInput("team", f"{team!r} is not a mob of {self.title}; the mobs are "
                                   f"{', '.join(m.team for m in self.mobs)}", source=self.source)


_Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$")]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Mob(Document):
    team: _Id = Field(description="a team's id in community/teams, e.g. mob-a")
    game_master: _Id | None = None
    scenarios: list[_Id] = Field(min_length=1, description="a drill scenario per round, or random, e.g. "
                                                           "[payments-down, random]")


class _Plan(Document):
    title: _Text = Field(description="what the day is called, e.g. Spring Chaos Day")
    start: datetime = Field(description="when round 1 starts, local time, e.g. 2026-04-01 09:30")
    round_minutes: int = Field(45, ge=10, le=180, description="each round's time box in minutes")
    secret: bool = True
    profile: Literal[tuple(PROFILES)] = "lab"  # type: ignore[valid-type]
    sandboxes: _Text | None = None
    ports: Annotated[str, StringConstraints(pattern=r"^\d+-\d+$")] | None = None
    mobs: list[_Mob] = Field(min_length=2, description="two or more mobs, each {team, game_master, scenarios}")


def _default_sandboxes(name: str) -> Path:
    return Config.from_env().paths.chaos_days / name


def load_plan(path: str | Path, *, drills: Iterable[str] | None = None,
              records: community.Records | None = None) -> ChaosDayPlan:
    """The Chaos Day plan in ``path`` (YAML), validated.

    ``drills`` are the scenario ids a round may name (default: drills/ of the kit's repository); ``records``,
    when given, are the community's: each mob must be one of its teams, each game master one of its members and
    none of the mob's. Raises InvalidInput naming the file and the field (``plan.yaml: mobs[1].scenarios[0]:
    'payment-down' is not a drill scenario ...``).
    """
    path = Path(path)
    where = str(path)
    try:
        documents = yamldocs.read(path)
    except FileNotFoundError:
        raise InvalidInput("plan", f"{path} does not exist") from None
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; a Chaos Day plan is one", source=where)
    model = validated(_Plan, documents[0].data, source=where)
    if drills is None:
        from ..drills.scenarios import catalogue

        drills = [scenario.id for scenario in catalogue()]
    known = frozenset(drills)
    teams = {t.id: t for t in records.teams} if records is not None else None
    members = {m.handle for m in records.members} if records is not None else None
    seen: set[str] = set()
    for i, mob in enumerate(model.mobs):
        at = f"mobs[{i}]"
        if mob.team in seen:
            raise InvalidInput(f"{at}.team", f"{mob.team!r} is planned twice; a mob drills once per round",
                               source=where)
        seen.add(mob.team)
        if len(mob.scenarios) != len(model.mobs[0].scenarios):
            raise InvalidInput(f"{at}.scenarios", f"plans {len(mob.scenarios)} rounds, but mobs[0] plans "
                                                  f"{len(model.mobs[0].scenarios)}: every mob drills in every round",
                               source=where)
        for j, scenario in enumerate(mob.scenarios):
            if scenario != RANDOM and scenario not in known:
                raise InvalidInput(f"{at}.scenarios[{j}]", f"{scenario!r} is not a drill scenario; they are "
                                                           f"{', '.join(sorted(known))}, or {RANDOM}", source=where)
        if teams is not None and mob.team not in teams:
            raise InvalidInput(f"{at}.team", f"{mob.team!r} is not a team (no community/teams/{mob.team}.yaml)",
                               source=where)
        if members is not None and mob.game_master is not None:
            if mob.game_master not in members:
                raise InvalidInput(f"{at}.game_master", f"{mob.game_master!r} is not a member", source=where)
            if mob.game_master in teams[mob.team].members:
                raise InvalidInput(f"{at}.game_master", f"{mob.game_master!r} is in {mob.team}: a mob's game "
                                                        "master is not one of its members", source=where)
    first, last = (int(n) for n in (model.ports or DEFAULT_PORTS).split("-"))
    from ..hub.ports import PortRange

    try:
        PortRange(first, last)
    except InvalidInput as error:
        raise InvalidInput("ports", error.problem, source=where) from None
    if model.sandboxes is None:
        sandboxes = _default_sandboxes(path.stem)
    else:
        given = Path(model.sandboxes).expanduser()
        sandboxes = given if given.is_absolute() else path.parent.resolve() / given
    return ChaosDayPlan(model.title, model.start, model.round_minutes, model.secret, model.profile, sandboxes,
                        (first, last), tuple(PlannedMob(m.team, m.game_master, tuple(m.scenarios))
                                             for m in model.mobs), where)


# ---------------------------------------------------------------- the mobs' sandboxes


def _registry(plan: ChaosDayPlan):
    from ..hub.ports import PortRange, PortRegistry

    return PortRegistry(plan.sandboxes / "ports.json", PortRange(*plan.ports))


def mob_config(plan: ChaosDayPlan, team: str) -> Config:
    """The Config of ``team``'s sandbox: its own state folder and its own block of ports (assigned on first use
    and kept), the plan's profile; the other settings are this environment's. InvalidInput("team") for a team
    the plan does not name."""
    plan.mob(team)
    block = _registry(plan).assign(team)
    return Config.from_env(state_dir=str(_state_folder(plan, team)), profile=plan.profile, **block.ports)


def _state_folder(plan: ChaosDayPlan, team: str) -> Path:
    return plan.sandboxes / team


def mob_environment(plan: ChaosDayPlan, team: str) -> dict[str, str]:
    """The KIT_* variables that point a terminal's `kit` commands and notebooks at ``team``'s sandbox."""
    config = mob_config(plan, team)
    ports = {Config.__dataclass_fields__[s].metadata["env"] for s in _port_settings()}
    wanted = ports | {"KIT_STATE_DIR", "KIT_PROFILE"}
    return {var: value for var, value in config.environment().items() if var in wanted}


def _port_settings() -> tuple[str, ...]:
    from ..hub.ports import PORT_SETTINGS

    return PORT_SETTINGS


def _each_mob(plan: ChaosDayPlan, work: Callable[[PlannedMob, Config], Any], progress: Progress) -> dict[str, Any]:
    """``work`` for every mob at once (a sandbox's start and a drill's steady-state wait are mostly waiting), by
    team. Once every mob's work has ended, each failure is told (``team: problem``) and the first is raised."""
    configs = {mob.team: mob_config(plan, mob.team) for mob in plan.mobs}
    with ThreadPoolExecutor(len(plan.mobs)) as pool:
        futures = {mob.team: pool.submit(work, mob, configs[mob.team]) for mob in plan.mobs}
        failed = {team: future.exception() for team, future in futures.items() if future.exception()}
    for team, error in failed.items():
        progress(f"{team}: {error}")
    if failed:
        raise next(iter(failed.values()))
    return {team: future.result() for team, future in futures.items()}


def up(plan: ChaosDayPlan, progress: Progress = _quiet) -> dict[str, Config]:
    """Start every mob's sandbox (all at once) and return each one's Config, by team. Raises what kit.sandbox.up
    raises (PortBusy naming the port, BinaryMissing, ...), after the other mobs' starts have ended."""
    from .. import sandbox

    def start(mob: PlannedMob, config: Config) -> Config:
        sandbox.up(config=config, progress=lambda line: progress(f"{mob.team}: {line}"))
        return config

    return _each_mob(plan, start, progress)


def down(plan: ChaosDayPlan, progress: Progress = _quiet) -> list[str]:
    """Stop every mob's sandbox; safe to run twice. Returns ``team: process`` for each process stopped."""
    from .. import sandbox

    stopped: list[str] = []
    for mob in plan.mobs:
        stopped += [f"{mob.team}: {name}" for name in sandbox.down(config=mob_config(plan, mob.team),
                                                                    progress=lambda line: progress(f"{mob.team}: "
                                                                                                   f"{line}"))]
    return stopped


def start_round(plan: ChaosDayPlan, round_: int, progress: Progress = _quiet) -> dict[str, str]:
    """Start round ``round_`` (1-based): every mob's planned drill on its own sandbox, at the same time, secret
    when the plan says so. Returns each mob's run id, by team. Raises InvalidInput("round") for a round the plan
    does not have, and what kit.drills.start raises (a drill still running, a sandbox down or not steady)."""
    from .. import drills

    if not 1 <= round_ <= plan.rounds:
        raise InvalidInput("round", f"{round_} is not a round of {plan.title}: it has {plan.rounds}")

    def begin(mob: PlannedMob, config: Config) -> str:
        scenario = mob.scenarios[round_ - 1]
        started = drills.start(None if scenario == RANDOM else scenario, random=scenario == RANDOM,
                               secret=plan.secret, config=config,
                               progress=lambda line: progress(f"{mob.team}: {line}"))
        progress(f"{mob.team}: drill {started.run} started ({started.title})")
        return started.run

    return _each_mob(plan, begin, progress)


# ---------------------------------------------------------------- the scoreboard


@dataclass(frozen=True)
class MobDrill:
    """One drill a mob started on its sandbox since the plan's start, as the sandbox recorded it.

    ``round`` counts the mob's drills of the day from 1; ``scenario`` is None while a secret drill runs;
    ``state`` is one of ``STATES`` but waiting; the response times are in seconds, as the drill's results give
    them (kit.timeline.ResponseTimes), None until reached; ``started_at``/``ended_at`` are Unix seconds;
    ``roles`` role -> who, as the drill recorded them; ``events`` its timeline.
    """

    team: str
    round: int
    run: str
    scenario: str | None
    state: str
    started_at: float
    ended_at: float | None
    ttd: float | None
    tta: float | None
    ttm: float | None
    ttr: float | None
    hints: int
    roles: dict[str, str]
    events: tuple[Event, ...] = ()


def gather(plan: ChaosDayPlan) -> list[MobDrill]:
    """Every drill each mob started on its own sandbox since ``plan.start``, by mob (plan order) then round:
    ended ones from the sandbox's drill results, the running one from its timeline. Reads files only, so it
    works with a sandbox down too."""
    from ..drills import lifecycle

    since = plan.start.timestamp()
    found = []
    for mob in plan.mobs:
        config = mob_config(plan, mob.team)
        rows = {row.get("run"): row for _, row in jsonlines.read(lifecycle.results_file(config))
                if isinstance(row, dict)}
        active = (lifecycle.active_record(config) or {}).get("run")
        runs = sorted(p.name for p in config.paths.drill_runs.glob("*") if p.is_dir())
        number = 0
        for run in runs:
            events = lifecycle.read_timeline(run, config)
            started = next((e for e in events if e.kind == "started"), None)
            if started is None or started.t < since:
                continue  # a rehearsal before the day, or a run that never got going
            number += 1
            row = rows.get(run)
            if row is not None:
                found.append(MobDrill(mob.team, number, run, row["scenario"], row["outcome"], started.t,
                                      row.get("ended_at"), row.get("ttd_s"), row.get("tta_s"), row.get("ttm_s"),
                                      row.get("ttr_s"), int(row.get("hints_used") or 0), dict(row.get("roles") or {}),
                                      tuple(events)))
                continue
            times = response_times(events)
            roles = next((dict(e.data.get("roles") or {}) for e in reversed(events) if e.kind == "roles"), {})
            found.append(MobDrill(mob.team, number, run, started.data.get("scenario"),
                                  "running" if run == active else "unfinished", started.t, None, times.ttd,
                                  times.tta, times.ttm, times.ttr, sum(1 for e in events if e.kind == "hint"),
                                  roles, tuple(events)))
    return found


@dataclass(frozen=True)
class BoardRow:
    """One mob's round on the scoreboard; ``drill`` is None while the round waits to start; ``elapsed`` in
    seconds (None while waiting)."""

    team: str
    round: int
    scenario: str
    state: str
    elapsed: float | None
    drill: MobDrill | None


@dataclass(frozen=True)
class Best:
    """The quickest of the day at one response time: which mob, in which round, and the seconds it took."""

    team: str
    round: int
    scenario: str
    seconds: float


@dataclass(frozen=True)
class Scoreboard:
    """The day's standing at ``at`` (Unix seconds): a row per mob and round, plan order; the fastest detection
    and the fastest restore among the drills that reached them. ``finished`` once no round waits or runs."""

    title: str
    at: float
    rows: tuple[BoardRow, ...]
    fastest_detection: Best | None
    fastest_restore: Best | None

    HEADER = ("mob", "round", "scenario", "state", "elapsed", "TTD", "TTA", "TTM", "TTR", "hints")

    @property
    def running(self) -> bool:
        return any(row.state == "running" for row in self.rows)

    @property
    def finished(self) -> bool:
        return not any(row.state in ("waiting", "running") for row in self.rows)

    def cells(self) -> list[tuple[str, ...]]:
        """The rows as the terminal and the page show them (``HEADER``'s columns; times as m:ss, "-" if none)."""
        def shown(seconds: float | None) -> str:
            return "-" if seconds is None else clock(seconds)

        out = []
        for row in self.rows:
            d = row.drill
            out.append((row.team, str(row.round), row.scenario, row.state, shown(row.elapsed),
                        *(shown(getattr(d, t)) if d else "-" for t in ("ttd", "tta", "ttm", "ttr")),
                        str(d.hints) if d else "-"))
        return out

    def highlights(self) -> list[str]:
        """The fastest detection and restore as sentences (none when no drill reached them)."""
        lines = []
        for what, best in (("detection", self.fastest_detection), ("restore", self.fastest_restore)):
            if best is not None:
                lines.append(f"fastest {what}: {best.team} in round {best.round} ({best.scenario}), "
                             f"{'TTD' if what == 'detection' else 'TTR'} {clock(best.seconds)}")
        return lines

    def html(self, refresh: int = 5) -> str:
        """A page of its own (no scripts, nothing fetched) with the table; while a drill runs it reloads itself
        every ``refresh`` seconds, so a projector showing the file follows the day."""
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.HEADER)
        body = "\n".join("<tr class=\"{}\">{}</tr>".format(html.escape(cells[3]), "".join(
            f"<td>{html.escape(c)}</td>" for c in cells)) for cells in self.cells())
        notes = "".join(f"<p>{html.escape(line)}</p>" for line in self.highlights())
        reload = f'<meta http-equiv="refresh" content="{refresh}">' if not self.finished else ""
        stamp = datetime.fromtimestamp(self.at).strftime("%Y-%m-%d %H:%M:%S")
        return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">{reload}"
                f"<title>{html.escape(self.title)}: scoreboard</title><style>"
                "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:1.4em}"
                "th,td{padding:.3em .8em;border-bottom:1px solid #ccc;text-align:left}"
                "tr.resolved td{color:#1a7f37}tr.running td{font-weight:bold}tr.abandoned td,tr.unfinished td"
                "{color:#b35900}</style></head><body>"
                f"<h1>{html.escape(self.title)}</h1><p>as of {stamp}"
                f"{' (drills running: this page reloads itself)' if self.running else ''}</p>"
                f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>{notes}"
                "<p>Figures to learn from, not a ranking.</p></body></html>\n")


def scoreboard(plan: ChaosDayPlan, drills: Iterable[MobDrill], now: float) -> Scoreboard:
    """The scoreboard of ``drills`` (``gather``'s) at ``now`` (Unix seconds). Pure.

    Every planned round of every mob has a row: its drill's, or a waiting one showing the planned scenario (
    "secret" in a secret plan; "the wheel" for random). A running secret drill shows "secret" too. The fastest
    detection is the least TTD of any drill, the fastest restore the least TTR of a resolved one; a tie goes to
    the mob planned first, then the earlier round.
    """
    by_mob: dict[str, dict[int, MobDrill]] = {}
    for drill in drills:
        by_mob.setdefault(drill.team, {})[drill.round] = drill
    rows = []
    for mob in plan.mobs:
        own = by_mob.get(mob.team, {})
        for number in range(1, max([plan.rounds, *own]) + 1):
            drill = own.get(number)
            if drill is None:
                planned = mob.scenarios[number - 1]
                shown = "secret" if plan.secret else ("the wheel" if planned == RANDOM else planned)
                rows.append(BoardRow(mob.team, number, shown, "waiting", None, None))
                continue
            end = drill.ended_at if drill.ended_at is not None else (now if drill.state == "running" else None)
            rows.append(BoardRow(mob.team, number, drill.scenario or "secret", drill.state,
                                 None if end is None else max(0.0, end - drill.started_at), drill))
    order = {mob.team: i for i, mob in enumerate(plan.mobs)}

    def best(figure: str, states: tuple[str, ...]) -> Best | None:
        reached = [r for r in rows if r.drill is not None and r.state in states
                   and getattr(r.drill, figure) is not None]
        if not reached:
            return None
        top = min(reached, key=lambda r: (getattr(r.drill, figure), order[r.team], r.round))
        return Best(top.team, top.round, top.scenario, getattr(top.drill, figure))

    return Scoreboard(plan.title, now, tuple(rows), best("ttd", STATES), best("ttr", ("resolved",)))


def watch(plan: ChaosDayPlan, show: Callable[[Scoreboard], None], *, every: float = 5.0,
          page: Path | None = None, sleep: Callable[[float], None] = time.sleep,
          now: Callable[[], float] = time.time) -> Scoreboard:
    """Show the scoreboard (and rewrite ``page``, its HTML) every ``every`` seconds until every planned round has
    ended; return the last one. Ctrl-C stops it like any command."""
    from ..atomicfile import write_atomically

    while True:
        board = scoreboard(plan, gather(plan), now())
        show(board)
        if page is not None:
            write_atomically(page, board.html(refresh=max(1, round(every))), mode=0o644)
        if board.finished:
            return board
        sleep(every)


# ---------------------------------------------------------------- the joint debrief


_SEEN = ("alert_firing", "page", "hint", "note", "action", "resolution_check")
"""The timeline events that tell what a mob saw and did, for its part of the debrief."""


def debrief(plan: ChaosDayPlan, board: Scoreboard, questions: dict[str, tuple[str, ...]] | None = None) -> str:
    """The joint debrief's agenda (Markdown): its timing, the scoreboard, what each mob saw in each round (its
    first signal, its hints, notes and actions with their times from the injection), the fastest detection and
    restore, then the scenarios' own debrief questions (``questions``: scenario id -> questions) and the
    community's (``DEBRIEF_QUESTIONS``). Pure."""
    questions = questions or {}
    stories = 5 * len(plan.mobs)
    agenda = [("the scoreboard, as figures to learn from", 5), *((f"{m.team}'s story, from its postmortem draft", 5)
                                                               for m in plan.mobs),
              ("the questions for everyone", 10), ("what we change, who owns each change, close", 10)]
    total = 5 + stories + 20
    lines = [f"# Joint debrief: {plan.title}", "", f"{total} minutes.", "", "| at | minutes | what |",
             "|---|---|---|"]
    at = 0
    for what, minutes in agenda:
        lines.append(f"| {clock(at * 60)} | {minutes} | {what} |")
        at += minutes
    lines += ["", "## The scoreboard", "", "| " + " | ".join(Scoreboard.HEADER) + " |",
              "|" + "---|" * len(Scoreboard.HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in board.cells()]
    lines += [""] + [f"- {line[0].upper()}{line[1:]}" for line in board.highlights()]
    lines += ["", "## What each mob saw"]
    for mob in plan.mobs:
        lines += ["", f"### {mob.team}"]
        for row in (r for r in board.rows if r.team == mob.team):
            lines.append(f"- round {row.round}, {row.scenario}: {row.state}")
            if row.drill is not None:
                lines += [f"  - {item}" for item in _seen(row.drill)]
    asked = [q for scenario in dict.fromkeys(r.scenario for r in board.rows) for q in questions.get(scenario, ())]
    lines += ["", "## Questions for everyone", ""] + [f"- {q}" for q in [*dict.fromkeys(asked), *DEBRIEF_QUESTIONS]]
    lines += ["", "Record each change as an experiment with an owner: `kit cop add experiment`."]
    return "\n".join(lines) + "\n"


def _seen(drill: MobDrill) -> list[str]:
    times = response_times(list(drill.events))
    origin = times.injected_at or drill.started_at
    first = next((e for e in drill.events if e.kind in ("alert_firing", "page") and e.t >= origin), None)
    out = [f"first signal: {first.text} (+{clock(first.t - origin)})" if first else "first signal: none recorded"]
    out += [f"+{clock(e.t - origin)} {e.kind}: {e.text}" for e in drill.events
            if e.kind in _SEEN and e is not first and e.t >= origin and e.kind not in ("alert_firing", "page")]
    return out


# ---------------------------------------------------------------- the community's records


def record_sessions(plan: ChaosDayPlan, drills: Iterable[MobDrill],
                    folder: str | Path | None = None) -> list[community.Session]:
    """Record every ended drill (resolved or abandoned) not yet in the community's records as a drill session of
    its mob: its day, scenario and team, the round's minutes, the team's members then and the game master as
    attendees, the drill's roles held by attendees as its rotation, ``drill_run`` its run and ``drill_results``
    the results file of the mob's sandbox (``mob_config(plan, team)``) that holds it, relative to the repository
    when the sandboxes lie inside it. Returns the sessions added; running it again adds none.

    A drill is already recorded when a session names the same run in the same results file: two mobs that
    started the same scenario in the same second share a run id, each in its own sandbox, and both are recorded.
    A session without ``drill_results`` names the environment's own sandbox's file.

    Raises InvalidInput as kit.community.records.add does (the team is not a team, ...).
    """
    records = community.load(folder)
    repository = records.folder.resolve().parent
    own = Config.from_env().paths.drill_results
    recorded = {(s.results_file(repository, own).resolve(), s.drill_run) for s in records.sessions if s.drill_run}
    taken = {s.id for s in records.sessions}
    teams = {t.id: t for t in records.teams}
    members = {m.handle: m for m in records.members}
    added = []
    for drill in drills:
        results = StatePaths(_state_folder(plan, drill.team)).drill_results.resolve()
        if drill.state not in ("resolved", "abandoned") or (results, drill.run) in recorded or drill.scenario is None:
            continue
        if drill.team not in teams:
            raise InvalidInput("team", f"{drill.team!r} is not a team (no community/teams/{drill.team}.yaml)",
                               source=plan.source)
        day = date.fromtimestamp(drill.started_at)
        attendees = [h for h in teams[drill.team].members if members[h].active_on(day)]
        master = plan.mob(drill.team).game_master
        if master is not None and master not in attendees:
            attendees.append(master)
        rotation = {role: who for role, who in drill.roles.items() if who in attendees}
        if master is not None:
            rotation["game master"] = master
        base = community.session_id(day, drill.scenario, drill.team)
        ident, n = base, 1
        while ident in taken:  # the same scenario twice in a day for one mob
            n += 1
            ident = f"{base}-{n}"
        data = {"date": day, "kind": "drill", "subject": drill.scenario, "team": drill.team,
                "minutes": plan.round_minutes, "attendees": attendees, "rotations": [rotation] if rotation else [],
                "drill_run": drill.run, "drill_results": ContentPaths(repository).shown(results),
                "notes": f"{plan.title}, round {drill.round}: {drill.state}"
                + "".join(f", {t.upper()} {clock(v)}" for t in ("ttd", "ttr")
                          if (v := getattr(drill, t)) is not None) + f", {drill.hints} hints"}
        added.append(community.add("sessions", ident, data, folder))
        taken.add(ident)
        recorded.add((results, drill.run))
    return added


def scenario_questions(board: Scoreboard) -> dict[str, tuple[str, ...]]:
    """Each scenario on the board's own debrief questions (drills/<id>.yml), for ``debrief``."""
    from ..drills.scenarios import catalogue

    shown = {row.scenario for row in board.rows}
    return {s.id: tuple(s.debrief) for s in catalogue() if s.id in shown}

