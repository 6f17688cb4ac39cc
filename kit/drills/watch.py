"""The drill's watcher: a small process that outlives notebook kernels and shells.

It carries out the game master's delayed injections on time, and turns what
it observes into timeline events: alerts starting to fire in Prometheus,
notifications (pages and tickets) reaching the pager, and every change to the sandbox the mob makes (a
fault gone, a process restarted, a flag flipped, load shed). It keeps no state
of its own: started again, it rebuilds what it knows from the timeline.
"""

from __future__ import annotations

import argparse
import threading
import time
import traceback

from .. import pager, polling, prom, sandbox
from ..config import Config
from ..errors import KitError
from ..shop import faults
from . import lifecycle as drills
from .mitigations import neighbour_running

POLL_S = 0.5
_FLAG_CHANGE = {"on": "turned", "off": "turned", "killed": "was"}
"""How a flag's new state reads after its name: turned on, turned off, was killed; else rolled out to 25%."""


class Watcher:
    def __init__(self, run: str, config: Config) -> None:
        self.run = run
        self.config = config
        self.scenario = drills.scenario_of(run, config)
        events = drills.read_timeline(run, config)
        self.started = next(e.t for e in events if e.kind == "started")
        self.scale = config.profile_spec.time_scale
        self.done = {e.data.get("index") for e in events if e.kind == "injected"}
        self.alerts = {e.data.get("alertname") for e in events if e.kind == "alert_firing"}
        self.notified = {e.data.get("key") for e in events if e.kind == "page"}
        self.feed = pager.NotificationFeed(config, since=self.started)
        self.prometheus_down = False
        self.secret = bool((drills.active_record(config) or {}).get("secret"))
        self.seen: dict[str, object] = self._observe()

    def step(self) -> None:
        self._inject_due()
        self._record_changes()
        self._record_alerts()
        self._record_notifications()

    def _inject_due(self) -> None:
        now = time.time()
        for index, inject in enumerate(self.scenario.injects):
            if index in self.done or now < self.started + inject.after / self.scale:
                continue
            try:
                drills.apply_inject(self.run, index, inject, self.config)
            except KitError as error:
                what = f"step {index + 1}" if self.secret else inject.describe()
                drills.record(self.run, "watcher", f"could not inject {what}: {error}", self.config)
            self.done.add(index)
            self._remember(self._observe())  # the game master's own change is not the mob's action

    def _observe(self) -> dict[str, object]:
        """What the mob can change: faults and flags per service, process pids, the noisy neighbour."""
        seen: dict[str, object] = {"pids": sandbox.pids(self.config), "neighbour": neighbour_running(self.config)}
        for service in faults.SERVICES:
            try:
                seen[f"faults:{service}"] = faults.faults_of(service, self.config, reveal=True)
                seen[f"flags:{service}"] = faults.flags_of(service, self.config)
            except KitError:
                seen[f"faults:{service}"] = seen[f"flags:{service}"] = None  # restarting: judged next round
        return seen

    def _record_changes(self) -> None:
        now = self._observe()
        # a process missing mid-restart keeps its old pid, so its return reads as a restart
        now["pids"] = {**self.seen.get("pids", {}), **now["pids"]}
        for text in describe_changes(self.seen, now):
            drills.record(self.run, "action", text, self.config)
        self._remember(now)

    def _remember(self, observed: dict[str, object]) -> None:
        """Keep the last known state of each part; a service that did not answer this time keeps its old one."""
        for key, value in observed.items():
            if value is not None:
                self.seen[key] = value

    def _record_alerts(self) -> None:
        try:
            frame = prom.alerts(config=self.config)
        except KitError:
            if not self.prometheus_down:
                drills.record(self.run, "watcher", "Prometheus does not answer; alerts cannot fire (`kit up` repairs it)",
                              self.config)
            self.prometheus_down = True
            return
        if self.prometheus_down:
            drills.record(self.run, "watcher", "Prometheus answers again", self.config)
            self.prometheus_down = False
        if not len(frame):
            return
        for _, row in frame[frame["state"] == "firing"].iterrows():
            name = row["alertname"]
            active_at = row.get("active_at")
            if name in self.alerts or (active_at is not None and _ts(active_at) < self.started - 1):
                continue
            self.alerts.add(name)
            drills.record(self.run, "alert_firing", f"{name} is firing", self.config, alertname=name,
                          status="firing", severity=row.get("severity", ""))

    def _record_notifications(self) -> None:
        for row in self.feed.read():
            if not drills.is_new_alert(row, self.started):
                continue
            key = f"{row['alertname']}|{row['status']}|{row['starts_at']}"
            if key in self.notified:
                continue
            self.notified.add(key)
            kind = "ticket" if row["severity"] == "ticket" else "page"
            to = f" to {row['team']} (on call: {row['primary'] or 'nobody'})" if row["team"] else ""
            drills.record(self.run, "page", f"{kind} {row['status']}: {row['alertname']} ({row['summary']}){to}",
                          self.config, alertname=row["alertname"], status=row["status"], severity=row["severity"],
                          runbook_url=row["runbook_url"], key=key, team=row["team"], primary=row["primary"])


def describe_changes(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """Human sentences for what changed between two observations; pure, so it is tested on its own."""
    changes = []
    for service in faults.SERVICES:
        old, new = before.get(f"faults:{service}"), after.get(f"faults:{service}")
        if isinstance(old, dict) and isinstance(new, dict):
            for kind in sorted(set(old) - set(new)):
                changes.append("rolled back to the previous version" if kind == "bad_deploy"
                               else f"{service}: {kind} fault cleared")
        old, new = before.get(f"flags:{service}"), after.get(f"flags:{service}")
        if isinstance(old, dict) and isinstance(new, dict):
            for flag in sorted(k for k in new if k in old and old[k] != new[k]):
                changes.append(f"flag {flag} {_FLAG_CHANGE.get(new[flag], 'rolled out to')} {new[flag]}")
    old_pids, new_pids = before.get("pids") or {}, after.get("pids") or {}
    for name in sorted(new_pids):
        if name in old_pids and old_pids[name] != new_pids[name]:
            changes.append(f"{name} restarted")
        elif name not in old_pids:
            changes.append(f"{name} started")
    if before.get("neighbour") and not after.get("neighbour"):
        changes.append("the noisy neighbour's load stopped")
    return changes


def _ts(value) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kit.drills.watch", description="watch one running drill")
    parser.add_argument("--run", required=True)
    args = parser.parse_args(argv)
    config = sandbox.current_config(None)
    watcher = Watcher(args.run, config)
    deadline = watcher.started + drills.MAX_DRILL_SECONDS
    done = threading.Event()

    def watch_once() -> None:
        active = drills.active_record(config)
        if not active or active.get("run") != args.run or active.get("ending"):
            done.set()
            return
        if not sandbox.is_up(config):  # `kit down` stops the watcher; this covers one it could not see
            drills.record(args.run, "watcher", "the sandbox was stopped; the watcher stopped. "
                          "End the drill with `kit drill end --abandon`", config)
            done.set()
            return
        if time.time() > deadline:
            drills.record(args.run, "watcher", "the drill ran for 2 hours; the watcher stopped", config)
            done.set()
            return
        try:
            watcher.step()
        except Exception as error:  # the watcher must outlive any one bad poll; the traceback goes to its log
            traceback.print_exc()
            drills.record(args.run, "watcher", f"watcher problem: {error}", config)

    polling.every(POLL_S, watch_once, stop=done)


if __name__ == "__main__":
    main()
