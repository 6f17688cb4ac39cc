"""Incident drills: a scenario injected into the live sandbox, a durable timeline, and what it teaches.

The life of a drill is a list of steps: verify the steady state, inject, let
the alert page, acknowledge, take notes, mitigate, verify the steady state
again, resolve, write the postmortem draft and the results. Everything that
happens is appended to a JSONL timeline the moment it happens, by whichever
process saw it (the CLI, a notebook kernel, or the drill's watcher process),
so neither a kernel restart nor a Prometheus crash loses any of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import yaml

from .. import pager, polling, procs, prom, sandbox
from ..config import Config
from ..errors import CheckFailed, InvalidInput, KitError, PromQLError, SandboxNotReady
from ..releases import flags
from ..shop import faults
from ..shop.faults import FLAGS
from ..timeline import Event, ResponseTimes, clock, response_times
from ..timescale import scale_expr
from .mitigations import start_neighbour, stop_neighbour
from .scenarios import SLOS_DIR, Inject, Probe, Scenario, catalogue, pick_random
from .scenarios import load as load_scenario

Progress = Callable[[str], None]

ROLES = ("incident commander", "driver", "communications", "scribe")
MAX_DRILL_SECONDS = 2 * 3600
"""The watcher gives up after this, so a forgotten drill never runs for ever."""


@dataclass(frozen=True)
class ProbeResult:
    """One probe of the steady-state hypothesis as measured now: ``value`` is its query's worst series, None
    when the query returned nothing."""

    probe: Probe
    value: float | None

    @property
    def holds(self) -> bool:
        return self.probe.holds(self.value)

    def __str__(self) -> str:
        return ("ok   " if self.holds else "FAIL ") + self.probe.describe(self.value)


@dataclass
class DrillStatus:
    """A drill as it stands: what the mob may see of the scenario, the timeline, the response times so far."""

    run: str
    scenario: Scenario
    secret: bool
    started_at: float
    events: list[Event]
    roles: dict[str, str]
    time_scale: int
    active: bool = True

    @property
    def hidden(self) -> bool:
        """Whether the mob's views keep the scenario secret: a secret drill, until it ends."""
        return self.secret and self.active

    @property
    def title(self) -> str:
        return "a secret scenario" if self.hidden else self.scenario.title

    @property
    def response_times(self) -> ResponseTimes:
        return response_times(self.events)

    @property
    def elapsed(self) -> float:
        return time.time() - self.started_at

    @property
    def hints_shown(self) -> int:
        return sum(1 for e in self.events if e.kind == "hint")

    def visible_events(self) -> list[Event]:
        """The timeline without what the game master keeps secret (what was injected) while the drill runs."""
        if not self.hidden:
            return self.events
        return [_masked(e) for e in self.events]

    def __repr__(self) -> str:
        # a notebook shows a bare `drill` by its repr; the dataclass's own would print the scenario's diagnosis
        return f"<drill {self.run}: {self.title}, {'running' if self.active else 'ended'}>"

    def __str__(self) -> str:
        lines = [f"drill {self.run}: {self.title} ({'running' if self.active else 'ended'}, "
                 f"{clock(self.elapsed)} elapsed)"]
        if self.roles:
            lines.append("roles: " + ", ".join(f"{role}: {who}" for role, who in self.roles.items()))
        for event in self.visible_events():
            lines.append(f"  {clock(event.t - self.started_at):>6}  {event.kind:<17} {event.text}")
        shown = {k: v for k, v in self.response_times.as_dict().items() if v is not None}
        if shown:
            lines.append("response times: " + ", ".join(f"{k[:-2].upper()} {clock(v)}" for k, v in shown.items()))
        return "\n".join(lines)


def _masked(event: Event) -> Event:
    """An event as a secret drill shows it: what was injected and what the probes look at stay hidden."""
    if event.kind == "injected":
        return Event(event.t, event.kind, "the game master injected something", {})
    if event.kind in ("steady_state", "resolution_check"):
        verdict = "passed" if event.data.get("passed") else "failed"
        return Event(event.t, event.kind, f"the steady-state probes {verdict}", {"passed": event.data.get("passed")})
    if event.kind == "action":
        # the watcher's "payments: latency fault cleared" would name the fault a mob's restart happened to clear
        return Event(event.t, event.kind, _FAULT_CLEARED.sub(r"\g<service>: a fault cleared", event.text), event.data)
    return event


_FAULT_CLEARED = re.compile(r"^(?P<service>\w+): \w+ fault cleared$")


@dataclass(frozen=True)
class DrillResult:
    """How a drill ended, kept in the results file for league tables and debriefs."""

    run: str
    scenario: str
    outcome: str  # resolved | abandoned
    response_times: ResponseTimes
    events: list[Event]
    postmortem: Path
    results_file: Path

    def __str__(self) -> str:
        parts = [f"drill {self.run} {self.outcome}"]
        parts += [f"{k[:-2].upper()} {clock(v)}" for k, v in self.response_times.as_dict().items() if v is not None]
        return ", ".join(parts) + f"\npostmortem draft: {self.postmortem}\nresults: {self.results_file}"


# ---------------------------------------------------------------- storage


def drills_dir(config: Config) -> Path:
    return config.paths.drills


def _active_file(config: Config) -> Path:
    return config.paths.active_drill


def run_dir(run: str, config: Config) -> Path:
    return config.paths.drill_run(run)


def results_file(config: Config) -> Path:
    return config.paths.drill_results


def record(run: str, kind: str, text: str, config: Config, **data: Any) -> Event:
    """Append one event; a single short write with O_APPEND, so writers in several processes never interleave."""
    event = Event(time.time(), kind, text, data)
    path = config.paths.drill_timeline(run)
    line = json.dumps({"t": event.t, "kind": kind, "text": text, "data": data}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return event


def read_timeline(run: str, config: Config) -> list[Event]:
    """Every event of a run, oldest first; a line cut short by a crash is skipped, the rest kept."""
    events = []
    path = config.paths.drill_timeline(run)
    if not path.exists():
        return events
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            raw = json.loads(line)
            events.append(Event(float(raw["t"]), str(raw["kind"]), str(raw["text"]), dict(raw.get("data") or {})))
        except (ValueError, KeyError, TypeError):
            continue
    return sorted(events, key=lambda e: e.t)


def active_record(config: Config) -> dict | None:
    """The running drill's record (``run``, ``secret``, ``started_at``, ``roles``, ``time_scale``, ``watcher``,
    and ``ending`` while it ends), or None when no drill runs. Raises KitError naming the file if it is damaged."""
    try:
        return json.loads(_active_file(config).read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise KitError(f"{_active_file(config)} is damaged; remove it to forget the running drill") from None


def _write_active(data: dict, config: Config) -> None:
    path = _active_file(config)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def scenario_of(run: str, config: Config) -> Scenario:
    """The scenario as the run stored it when it started: later edits to drills/ do not change a running drill."""
    doc = yaml.safe_load(config.paths.drill_scenario(run).read_text(encoding="utf-8"))
    return load_scenario(doc)


# ---------------------------------------------------------------- steady state


def steady_state(scenario: Scenario, config: Config | None = None) -> list[ProbeResult]:
    """Run the hypothesis's probes now, recording nothing; queries are compressed by the profile's time scale
    like the rules."""
    config = sandbox.current_config(config)
    scale = config.profile_spec.time_scale
    results = []
    for probe in scenario.steady_state:
        frame = prom.query(scale_expr(probe.query, scale), config=config)
        values = [float(v) for v in frame["value"]] if len(frame) else []
        worst = (max(values) if probe.comparison == "below" else min(values)) if values else None
        results.append(ProbeResult(probe, worst))
    return results


def firing(names: tuple[str, ...], config: Config, severity: str | None = None) -> list[str]:
    """Which of these alerts (at this severity, if given) are pending or firing in Prometheus right now."""
    frame = prom.alerts(config=config)
    if not len(frame):
        return []
    hits = frame[frame["alertname"].isin(names)]
    if severity is not None:
        hits = hits[hits["severity"] == severity]
    return sorted(set(hits["alertname"]))


def _wait_steady(scenario: Scenario, config: Config, progress: Progress, secret: bool = False) -> list[ProbeResult]:
    """Wait for the hypothesis to hold with none of the expected alerts active.

    An expected alert still active from an earlier incident could not page
    again, so the wait allows for the longest window of those alerts' rules (at
    the expected severity: an SLO's slow-burn tickets look back for days) as
    well as the hypothesis's own windows. In a secret drill its messages count
    the probes and alerts instead of naming them: their names tell the scenario.
    """
    from ..timescale import parse_duration, range_windows

    scale = config.profile_spec.time_scale
    loaded = prom.rules(config=config)
    expected = loaded[loaded["name"].isin(scenario.expect_alerts) & (loaded["severity"] == scenario.expect_severity)]
    windows = [w for q in expected["query"] for w in range_windows(q)]
    # burn-rate alerts read recorded ratios; their windows are in their labels, at production timing
    windows += [parse_duration(labels["long_window"]) / scale for labels in expected["labels"] if "long_window" in labels]
    timeout = scenario.settle / scale + max(windows, default=0.0) + 30
    deadline = time.monotonic() + timeout
    told = 0.0
    results: list[ProbeResult] = []
    problems: list[str] = []

    def steady() -> bool:
        nonlocal told, results, problems
        results = steady_state(scenario, config)
        active = firing(scenario.expect_alerts, config, scenario.expect_severity)
        if all(r.holds for r in results) and not active:
            return True
        problems = [str(r.probe.describe(r.value)) for r in results if not r.holds]
        problems += [f"{name} is still active" for name in active]
        if secret:
            problems = [f"{len(problems)} of the scenario's probes and alerts are not back to normal"]
        if time.monotonic() - told > 10 and deadline > time.monotonic():
            progress(f"waiting up to {deadline - time.monotonic():.0f} s for the steady state: " + "; ".join(problems))
            told = time.monotonic()
        return False

    polling.wait_for(steady, timeout, 0.5, describe=lambda: (
        "the sandbox is not in its steady state: " + "; ".join(problems)
        + ". Wait for earlier faults to clear (`kit fault list`, `kit status`) and try again."))
    return results


# ---------------------------------------------------------------- lifecycle


def list_drills() -> list[Scenario]:
    """Every scenario in drills/, validated."""
    return catalogue()


def start(name: str | None = None, *, random: bool = False, secret: bool = False,
          roles: dict[str, str] | None = None, config: Config | None = None,
          progress: Progress = lambda _: None) -> DrillStatus:
    """Verify the steady state, inject the scenario's first faults and start its watcher."""
    config = sandbox.current_config(config)
    if (name is None) == (not random):
        raise InvalidInput("drill", "name one scenario, or ask for a random one (and not both)")
    scenario = pick_random() if random else load_scenario(name)
    roles = _validate_roles(roles or {})
    if active_record(config) is not None:
        current = status(config)
        if not sandbox.is_up(config):
            raise KitError(f"drill {current.run} is still running, though the sandbox was stopped; "
                           "end it with `kit drill end --abandon` (at once), then start again")
        raise KitError(f"drill {current.run} is still running ({clock(current.elapsed)} elapsed); "
                       "finish it with `kit drill end`, or `kit drill end --abandon`")
    sandbox.require(config)
    scale = config.profile_spec.time_scale
    for slo in scenario.slos:
        _install_slo(slo, config)
    probes = _wait_steady(scenario, config, progress, secret)
    started = datetime.now(timezone.utc)
    run = f"{started:%Y%m%dT%H%M%S}-{'secret' if secret else scenario.id}"
    run_dir(run, config).mkdir(parents=True, exist_ok=True)
    config.paths.drill_scenario(run).write_text(yaml.safe_dump(_scenario_doc(scenario), sort_keys=False))
    _write_active({"run": run, "secret": secret, "started_at": started.timestamp(), "roles": roles,
                   "time_scale": scale, "watcher": None}, config)
    if secret:  # from now on the services list faults only to the game master (`kit fault list --reveal`)
        config.secret_drill_file.touch()
    record(run, "started", f"drill started: {'a secret scenario' if secret else scenario.title}", config,
           secret=secret, **({} if secret else {"scenario": scenario.id}))
    if roles:
        record(run, "roles", _roles_text(roles), config, roles=roles)
    record(run, "steady_state", "steady state holds: " + "; ".join(r.probe.describe(r.value) for r in probes),
           config, passed=True)
    for index, inject in enumerate(scenario.injects):
        if inject.after == 0:
            apply_inject(run, index, inject, config)
    _ensure_watcher(run, config)
    return status(config)


@dataclass(frozen=True)
class Drill:
    """A drill this process started or joined with ``drill``; like an open file, ``close`` ends it, and a with
    block closes it on the way out."""

    run: str
    config: Config

    def status(self) -> DrillStatus:
        """The drill as it stands (``drills.status``); CheckFailed once it has ended."""
        return status(self.config)

    def close(self) -> DrillResult:
        """How the drill ended; one still running is given up first (abandoned, the sandbox reset), so there is
        always a result and a postmortem draft. Closing a drill that has ended (resolved from a cell, the
        console or the CLI, or closed before) changes nothing and returns how it ended."""
        return end(abandon=True, run=self.run, config=self.config)

    def __enter__(self) -> Drill:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<drill {self.run}>"


def drill(name: str | None = None, *, random: bool = False, secret: bool = False,
          roles: dict[str, str] | None = None, join: bool = False, config: Config | None = None,
          progress: Progress = lambda _: None) -> Drill:
    """Start a drill as ``start`` does and return it, to be closed: ``with drill("payments-down") as d: ...``
    ends it when the block ends, whatever happened inside (abandoned unless it was resolved there).

    ``join=True`` takes over the drill already running instead, whatever its scenario (a facilitator's secret
    one from a terminal), and starts one only when none runs. A notebook, whose cells cannot share a with
    block, keeps the returned drill and closes it in a later cell. Raises what ``start`` raises.
    """
    config = sandbox.current_config(config)
    active = active_record(config) if join else None
    if active is not None:
        return Drill(active["run"], config)
    return Drill(start(name, random=random, secret=secret, roles=roles, config=config, progress=progress).run, config)


def apply_inject(run: str, index: int, inject: Inject, config: Config) -> Event:
    """Carry out one of the game master's actions and put it on the timeline."""
    if inject.fault:
        faults.set_fault(inject.fault, service=inject.service, config=config, **inject.params)
    elif inject.flag:
        flags.change_flag(inject.flag, percent=100 if inject.enabled else 0, actor=f"drill {run}", config=config)
    else:
        start_neighbour(inject.load_route, inject.load_rps, inject.load_seconds, config)
    return record(run, "injected", inject.describe(), config, index=index)


def running(config: Config | None = None) -> bool:
    """Whether a drill is running now (a notebook checks before starting or cleaning up)."""
    return active_record(sandbox.current_config(config)) is not None


def status(config: Config | None = None) -> DrillStatus:
    """The running drill (its watcher restarted if it died while the sandbox is up); CheckFailed when none is running."""
    config = sandbox.current_config(config)
    active = active_record(config)
    if active is None:
        raise CheckFailed("no drill is running; start one with `kit drill start NAME` (`kit drill list` shows them)")
    run = active["run"]
    _ensure_watcher(run, config)
    return DrillStatus(run, scenario_of(run, config), active["secret"], active["started_at"],
                       read_timeline(run, config), active.get("roles") or {}, active["time_scale"])


def new_notifications(since: float, config: Config):
    """Notifications received since ``since`` about alerts that started since then (see ``is_new_alert``)."""
    rows = pager.notifications(config, since=since)
    if not len(rows):
        return rows
    return rows[[is_new_alert(row, since) for row in rows.to_dict("records")]].reset_index(drop=True)


def is_new_alert(row: dict, since: float) -> bool:
    """Whether a stored notification (a ``pager.notifications`` row) is about an alert that started at
    ``since`` or later.

    Alertmanager repeats a group's older alerts in every notification, so an alert left over from an
    earlier incident must not count as this drill's. One second of slack covers the clocks of
    Prometheus and this process.
    """
    return _parse_time(row["starts_at"]) >= since - 1


def _parse_time(text: str) -> float:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def wait_for_page(timeout: float = 60.0, config: Config | None = None) -> Event:
    """Block until the running drill's timeline holds a firing page (so `ack` can follow), and return it."""
    config = sandbox.current_config(config)
    current = status(config)

    def page() -> Event | None:
        return next((e for e in read_timeline(current.run, config)
                     if e.kind == "page" and e.data.get("status") == "firing"), None)

    return polling.wait_for(page, timeout, 0.2, describe=(
        f"no page within {timeout:.0f} s (the drill expects {' or '.join(current.scenario.expect_alerts)}); "
        f"see `kit drill status` and the watcher's log {config.paths.drill_watcher_log(current.run)}"))


def ack(by: str = "", config: Config | None = None) -> Event:
    """Acknowledge the page: someone owns the incident now.

    Idempotent: once the page is acknowledged (from a cell, the console or the
    CLI), acknowledging again records nothing and returns that first
    acknowledgement, whoever asks. CheckFailed while no page has arrived.
    """
    config = sandbox.current_config(config)
    current = status(config)
    with _locked(config.paths.drill_lock):
        events = read_timeline(current.run, config)
        done = next((e for e in events if e.kind == "acknowledged"), None)
        if done is not None:
            return done
        if not any(e.kind == "page" and e.data.get("status") == "firing" for e in events):
            raise CheckFailed("nothing to acknowledge yet: no page has arrived in this drill")
        return record(current.run, "acknowledged", f"acknowledged by {by}" if by else "acknowledged", config, by=by)


def note(text: str, by: str = "", config: Config | None = None) -> Event:
    """A line for the timeline: what the mob saw, thought or decided.

    The same text from the same person twice (a cell run again, a double click)
    is one line: the earlier note is returned and nothing is recorded.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text", "a note needs some text")
    config = sandbox.current_config(config)
    current = status(config)
    with _locked(config.paths.drill_lock):
        same = next((e for e in read_timeline(current.run, config) if e.kind == "note" and e.text == text.strip()
                     and e.data.get("by", "") == by), None)
        return same or record(current.run, "note", text.strip(), config, by=by)


def hint(config: Config | None = None) -> str:
    """Reveal the next of the scenario's progressive hints (counted in the results).

    Once every hint is shown, asking again records nothing and returns the last one.
    """
    config = sandbox.current_config(config)
    current = status(config)
    with _locked(config.paths.drill_lock):
        shown = sum(1 for e in read_timeline(current.run, config) if e.kind == "hint")
        hints = current.scenario.hints
        if not hints:
            raise CheckFailed(f"the scenario of drill {current.run} has no hints")
        if shown >= len(hints):
            return hints[-1]
        record(current.run, "hint", hints[shown], config, number=shown + 1)
        return hints[shown]


def set_roles(roles: dict[str, str], config: Config | None = None) -> Event:
    """Give these roles to these people, keeping the roles not named; recorded, so the postmortem names the mob.

    Roles are read fresh from the running drill, so a console and a cell never
    overwrite each other with stale names. If nothing changes, nothing is
    recorded and the latest roles event is returned.
    """
    roles = _validate_roles(roles)
    config = sandbox.current_config(config)
    current = status(config)
    with _locked(config.paths.drill_lock):
        active = active_record(config) or {}
        if active.get("run") != current.run:
            raise CheckFailed(f"drill {current.run} ended while the roles were being saved; nothing was changed")
        merged = {**(active.get("roles") or {}), **roles}
        merged = {role: merged[role] for role in ROLES if role in merged}
        if merged == (active.get("roles") or {}):
            latest = next((e for e in reversed(read_timeline(current.run, config)) if e.kind == "roles"), None)
            if latest is None:
                raise InvalidInput("roles", f"give at least one role a name; the roles are {', '.join(ROLES)}")
            return latest
        active["roles"] = merged
        _write_active(active, config)
        return record(current.run, "roles", _roles_text(merged), config, roles=merged)


def verify_steady_state(config: Config | None = None) -> list[ProbeResult]:
    """Run the running drill's steady-state probes now and record the verdict on its timeline (a
    ``resolution_check`` event, passed or failed); one result per probe. CheckFailed when no drill runs."""
    config = sandbox.current_config(config)
    current = status(config)
    results = steady_state(current.scenario, config)
    passed = all(r.holds for r in results)
    record(current.run, "resolution_check", ("passed: " if passed else "failed: ")
           + "; ".join(r.probe.describe(r.value) for r in results), config, passed=passed)
    return results


check = verify_steady_state
"""The older name of ``verify_steady_state``, as `kit drill check` is of `kit drill verify`."""


def end(*, abandon: bool = False, wait: float | None = None, run: str | None = None,
        config: Config | None = None) -> DrillResult:
    """Resolve the drill once the steady state holds again (or abandon it), then reset the sandbox.

    ``wait`` bounds how long to wait for the steady state (default: the time its
    query windows need after a fix). A drill that is not resolved stays running.
    ``run`` names the drill to end (default: the running one, else the latest).
    Idempotent: a drill that has already ended (from the console, a cell or the
    CLI) is not ended again; its result is returned as it was recorded.
    Raises CheckFailed when no drill has been run, or the steady state does not
    hold in time; SandboxNotReady when the sandbox is down and ``abandon`` is False.
    """
    config = sandbox.current_config(config)
    with _locked(config.paths.drill_end_lock):
        active = active_record(config)
        if active is None and run is None:
            try:
                run = last_run(config)
            except CheckFailed:
                raise CheckFailed("no drill is running; start one with `kit drill start NAME` "
                                  "(`kit drill list` shows them)") from None
        if active is None or (run is not None and active["run"] != run):
            return result_of(run, config)
        return _end(abandon, wait, config)


def result_of(run: str, config: Config | None = None) -> DrillResult:
    """How an ended drill ended, rebuilt from its results row and timeline; CheckFailed if it has not ended."""
    config = sandbox.current_config(config)
    path = results_file(config)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    row = next((r for r in reversed(rows) if r.get("run") == run), None)
    if row is None:
        if not run_dir(run, config).is_dir():
            raise CheckFailed(f"there is no drill {run!r}; `kit drill results` lists the drills that ended")
        raise CheckFailed(f"drill {run} has not ended: it is running, or it stopped before it was recorded "
                          f"(see {config.paths.drill_timeline(run)})")
    events = read_timeline(run, config)
    return DrillResult(run, row["scenario"], row["outcome"], response_times(events), events,
                       config.paths.drill_postmortem(run), path)


def _end(abandon: bool, wait: float | None, config: Config) -> DrillResult:
    current = status(config)
    run, scenario = current.run, current.scenario
    if not abandon and not sandbox.is_up(config):
        raise SandboxNotReady(f"drill {run} cannot be resolved: the sandbox is down, so its steady state cannot be "
                              "verified. `kit up`, then `kit drill end`; or give up with `kit drill end --abandon`.")
    if not abandon:
        results: list[ProbeResult] = []

        def holds() -> bool:
            nonlocal results
            results = _try_steady(scenario, config)
            return bool(results) and all(r.holds for r in results)

        if not polling.wait_until(holds, scenario.settle / current.time_scale if wait is None else wait, 0.5):
            record(run, "resolution_check", "failed: " + _describe(results), config, passed=False)
            shown = "some probes fail (hidden in a secret drill)" if current.secret else _describe(results)
            raise CheckFailed("the steady state does not hold yet: " + shown
                              + ". Mitigate (the runbook says how), then `kit drill end` again; "
                              "or give up with `kit drill end --abandon`.")
        record(run, "resolution_check", "passed: " + _describe(results), config, passed=True)
        record(run, "resolved", "resolved: the steady state holds again", config)
    elif not sandbox.is_up(config):
        record(run, "abandoned", "abandoned: the sandbox had been stopped", config)
    else:
        record(run, "abandoned", "abandoned before the steady state held again", config)
    _stop_watcher(config)
    _reset(scenario, config)
    config.secret_drill_file.unlink(missing_ok=True)
    record(run, "ended", "the sandbox is reset", config)
    events = read_timeline(run, config)
    outcome = "abandoned" if abandon else "resolved"
    times = response_times(events)
    from .postmortem import draft

    postmortem = config.paths.drill_postmortem(run)
    postmortem.write_text(draft(scenario, events, current.roles, outcome, current.time_scale, config=config))
    _append_result(run, scenario, current, outcome, times, events, config)
    with _locked(config.paths.drill_lock):
        _active_file(config).unlink(missing_ok=True)
    return DrillResult(run, scenario.id, outcome, times, events, postmortem, results_file(config))


@dataclass(frozen=True)
class Rehearsal:
    """A drill the kit ran by itself, playing the mob, to prove the scenario works as written."""

    result: DrillResult
    page_after: float
    """Real seconds from the first injection to the expected alert reaching the pager."""
    page_bound: float
    """The scenario's bound on that, in real seconds at this profile's time scale."""
    severity: str


def rehearse(name: str, *, mitigation: int = 0, config: Config | None = None,
             progress: Progress = lambda _: None) -> Rehearsal:
    """Start the drill, wait for the expected page, acknowledge, apply a documented mitigation, resolve.

    Facilitators run it before a session (`kit drill rehearse NAME`); the tests
    and the time-to-page benchmark run every scenario through it.
    """
    import shlex
    import subprocess

    config = sandbox.current_config(config)
    with drill(name, config=config, progress=progress) as rehearsed:  # abandoned if any step below fails
        started = rehearsed.status()
        scenario, scale = started.scenario, started.time_scale
        injected = started.response_times.injected_at or started.started_at
        bound = scenario.page_within / scale
        feed = pager.NotificationFeed(config, since=injected)
        paged = polling.wait_for(
            lambda: next((row for row in feed.read() if is_new_alert(row, injected) and row["status"] == "firing"
                          and row["alertname"] in scenario.expect_alerts
                          and row["severity"] == scenario.expect_severity), None),
            2 * bound + 30, 0.2,
            describe=f"{scenario.id}: no {scenario.expect_severity} for {', '.join(scenario.expect_alerts)} "
                     f"reached the pager within {2 * bound + 30:.0f} s of the injection")
        page_after = paged["received_at"].timestamp() - injected
        wait_for_page(timeout=20, config=config)
        ack(by="rehearsal", config=config)
        command = scenario.mitigations[mitigation].command
        record(started.run, "note", f"the rehearsal runs `{command}`", config, by="rehearsal")
        done = subprocess.run([sys.executable, "-m", "kit.cli", *shlex.split(command)[1:]], env=_env(config),
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise CheckFailed(f"{scenario.id}: the mitigation `{command}` failed: {done.stderr.strip()}")
        _wait_for_action(started.run, config)
        result = end(config=config)
    return Rehearsal(result, page_after, bound, str(paged["severity"]))


def _wait_for_action(run: str, config: Config, timeout: float = 20.0) -> None:
    """The watcher polls twice a second; a fix it has not seen yet would be missing from the timeline."""
    if not polling.wait_until(lambda: any(e.kind == "action" for e in read_timeline(run, config)), timeout, 0.2):
        raise CheckFailed(f"the drill's watcher recorded no action within {timeout:.0f} s of the mitigation; "
                          f"see {config.paths.drill_watcher_log(run)}")


def _try_steady(scenario: Scenario, config: Config) -> list[ProbeResult]:
    try:
        return steady_state(scenario, config)
    except (SandboxNotReady, PromQLError, KitError):
        return []


def _describe(results: list[ProbeResult]) -> str:
    if not results:
        return "Prometheus did not answer"
    return "; ".join(r.probe.describe(r.value) for r in results)


def results(config: Config | None = None):
    """Every finished drill, one row each, as a DataFrame (for debriefs and league tables)."""
    import pandas as pd

    config = sandbox.current_config(config)
    path = results_file(config)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
    return pd.DataFrame(rows)


def last_run(config: Config | None = None) -> str:
    """The id of the most recently started drill, running or ended."""
    config = sandbox.current_config(config)
    runs = sorted(p.name for p in config.paths.drill_runs.glob("*") if p.is_dir())
    if not runs:
        raise CheckFailed("no drill has been run yet")
    return max(runs)


def _append_result(run: str, scenario: Scenario, current: DrillStatus, outcome: str, result: ResponseTimes,
                   events: list[Event], config: Config) -> None:
    row = {
        "run": run, "scenario": scenario.id, "difficulty": scenario.difficulty, "secret": current.secret,
        "outcome": outcome, "started_at": current.started_at, "ended_at": time.time(),
        "profile": config.profile, "time_scale": current.time_scale, **result.as_dict(),
        "expected_alert_paged": any(e.kind == "page" and e.data.get("alertname") in scenario.expect_alerts
                                    and e.data.get("status") == "firing" for e in events),
        "hints_used": sum(1 for e in events if e.kind == "hint"),
        "notes": sum(1 for e in events if e.kind == "note"),
        "actions": [e.text for e in events if e.kind == "action"],
        "roles": current.roles,
    }
    with open(results_file(config), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


def _reset(scenario: Scenario, config: Config) -> None:
    """Leave the sandbox as the drill found it: no load, no faults, flags at their defaults, no drill rules."""
    stop_neighbour(config)
    try:
        faults.clear_faults(config=config)
        for flag in {i.flag for i in scenario.injects if i.flag}:
            flags.change_flag(flag, percent=100 if FLAGS[flag].default else 0, actor="drill end", config=config)
    except SandboxNotReady:
        pass  # a service that is down has no faults left to clear; `kit up` starts it clean
    for slo in scenario.slos:
        sandbox.remove_rules(_rule_file(slo), config=config)


def _rule_file(slo_name: str) -> str:
    """The drill's own rule file for an SLO: never the ``slo-<name>`` a learner's `kit slo apply` installs."""
    return f"drill-slo-{slo_name}"


def _install_slo(name: str, config: Config) -> None:
    from .. import slo

    spec = slo.load_spec(SLOS_DIR / f"{name}.yml")
    slo.install(spec, name=_rule_file(spec.name), config=config)


def _validate_roles(roles: dict[str, str]) -> dict[str, str]:
    for role, who in roles.items():
        if role not in ROLES:
            raise InvalidInput("roles", f"{role!r} is not a drill role; the roles are {', '.join(ROLES)}")
        if not isinstance(who, str) or not who.strip():
            raise InvalidInput("roles", f"{role} needs a person's name")
    return {role: who.strip() for role, who in roles.items()}


def _roles_text(roles: dict[str, str]) -> str:
    return "roles: " + ", ".join(f"{role} {who}" for role, who in roles.items())


def _scenario_doc(scenario: Scenario) -> dict:
    """The scenario as YAML again, frozen into the run folder so later edits to drills/ cannot change it."""
    from ..timescale import format_duration

    def inject(i: Inject) -> dict:
        doc: dict[str, Any] = {"after": format_duration(i.after) if i.after else "0s"}
        if i.fault:
            doc.update({"fault": i.fault, "params": dict(i.params)})
            if i.service:
                doc["service"] = i.service
        elif i.flag:
            doc.update({"flag": i.flag, "enabled": i.enabled})
        else:
            doc["load"] = {"route": i.load_route, "rps": i.load_rps, "duration": format_duration(i.load_seconds)}
        return doc

    return {
        "id": scenario.id, "title": scenario.title, "difficulty": scenario.difficulty, "briefing": scenario.briefing,
        "inject": [inject(i) for i in scenario.injects],
        "expect": {"alerts": list(scenario.expect_alerts), "severity": scenario.expect_severity,
                   "page_within": format_duration(scenario.page_within)},
        "steady_state": [{"name": c.name, "query": c.query, c.comparison: c.bound} for c in scenario.steady_state],
        "mitigations": [{"command": m.command, "effect": m.effect} for m in scenario.mitigations],
        "diagnosis": dict(scenario.diagnosis), "hints": list(scenario.hints), "debrief": list(scenario.debrief),
        "slos": list(scenario.slos),
    }


# ---------------------------------------------------------------- the watcher process


@contextlib.contextmanager
def _locked(lock: Path):
    """One process at a time reads-and-rewrites the active drill (a console refreshing while the CLI ends it).

    ``end`` holds a lock of its own for its whole run (it waits for the steady
    state), so that a second ``end`` waits for the first and then finds it over.
    Not reentrant: never take the same lock twice in one process.
    """
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ensure_watcher(run: str, config: Config) -> None:
    """Start the watcher unless it is alive, the drill is ending or the sandbox is down.

    A new watcher rebuilds its view from the timeline. It is attached to the sandbox,
    so `kit down` stops it: with nothing to watch it would only wait out the two hours.
    """
    with _locked(config.paths.drill_lock):
        active = active_record(config)
        if active is None or active.get("run") != run or active.get("ending"):
            return
        saved = active.get("watcher")
        if saved and procs.alive(procs.ProcessRecord.from_json(saved)):
            return
        if not sandbox.is_up(config):
            return
        argv = [sys.executable, "-m", "kit.drills.watch", "--run", run]
        watcher = procs.spawn("drillwatch", argv, config.paths.drill_watcher_log(run), env=_env(config))
        if not sandbox.attach(watcher, config):  # `kit down` got there first
            procs.stop(watcher)
            return
        active["watcher"] = watcher.to_json()
        _write_active(active, config)


def _env(config: Config) -> dict[str, str]:
    """This environment with every KIT_* setting of ``config``, so a child process sees the same sandbox."""
    return {**os.environ, **{var: value for _, var, value, _ in config.describe()}}


def _stop_watcher(config: Config) -> None:
    """Mark the drill as ending (so nobody restarts the watcher), then stop it."""
    with _locked(config.paths.drill_lock):
        active = active_record(config) or {}
        active["ending"] = True
        _write_active(active, config)
    saved = active.get("watcher")
    if saved:
        procs.stop(procs.ProcessRecord.from_json(saved))
        sandbox.detach("drillwatch", config)
