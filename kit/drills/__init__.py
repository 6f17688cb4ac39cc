"""Incident drills: a scenario injected into the sandbox, its pages, the mob's response, a postmortem draft.

``kit.drills.start(...)``, ``status()``, ``ack()``, ``end()`` and the rest come from
:mod:`kit.drills.lifecycle`. The package's modules:

- ``lifecycle``: start, watch over and end a drill; its record, timeline and response times
- ``scenarios``: the drill scenario files (``drills/*.yaml``), validated before anything is injected
- ``watch``: the watcher process that records what the sandbox does during a drill
- ``mitigations``: the real fixes a mob applies (rollback, restart, shed load)
- ``postmortem``: the blameless postmortem draft written from the timeline

A drill's timeline (``Event``) and its response times (``response_times``, ``ResponseTimes``; ``figures`` and
``Figures`` are their older names) are kit.timeline's. A scenario's steady-state hypothesis is a list of
probes (``kit.drills.scenarios.Probe``); ``verify_steady_state`` runs them during a drill and records the
verdict (``check`` is its older name, as `kit drill check` is of `kit drill verify`).
"""

from __future__ import annotations

from ..timeline import Event, Figures, ResponseTimes, figures, response_times
from .lifecycle import (
    MAX_DRILL_SECONDS,
    ROLES,
    Drill,
    DrillResult,
    DrillStatus,
    ProbeResult,
    Rehearsal,
    ack,
    active_record,
    apply_inject,
    check,
    drill,
    drills_dir,
    end,
    firing,
    hint,
    is_new_alert,
    last_run,
    list_drills,
    new_notifications,
    note,
    read_timeline,
    record,
    rehearse,
    result_of,
    results,
    results_file,
    run_dir,
    running,
    scenario_of,
    set_roles,
    start,
    status,
    steady_state,
    verify_steady_state,
    wait_for_page,
)

__all__ = [
    "MAX_DRILL_SECONDS", "ROLES", "Drill", "DrillResult", "DrillStatus", "Event", "Figures", "ProbeResult",
    "Rehearsal", "ResponseTimes", "ack", "active_record", "apply_inject", "check", "drill", "drills_dir", "end",
    "figures", "firing", "hint", "is_new_alert", "last_run", "list_drills", "new_notifications", "note",
    "read_timeline", "record", "rehearse", "response_times", "result_of", "results", "results_file", "run_dir",
    "running", "scenario_of", "set_roles", "start", "status", "steady_state", "verify_steady_state",
    "wait_for_page",
]
