"""The drill console: one notebook widget for the mob running an incident drill.

Everything it shows is read from disk (the drill's active file and timeline,
the pager's store), so a console built after a kernel restart attaches to the
running drill with its whole timeline. The buttons call the same ``kit.drills``
functions a cell calls, and those are idempotent, so a button and a cell do
the same thing to the same drill in any order (the Acknowledge button, then
``drills.ack`` in a cell: one acknowledgement, and no error). A kit error is
shown in the console, never raised out of a callback, because a callback has
nowhere to raise to.
"""

from __future__ import annotations

import base64
import html
import io
import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from numbers import Real

import ipywidgets as widgets

from . import drills, pager, plots, sandbox
from .config import Config
from .drills import ROLES, DrillResult, DrillStatus
from .errors import CheckFailed, InvalidInput, KitError
from .mob import close_children
from .timeline import Event, clock

START_HINT = 'import kit.drills\nkit.drills.start("payments-down")'
"""What the console tells a mob that opens it before any drill is running."""

_SCROLL = "<div style='max-height:12em;overflow-y:auto'>{}</div>"
# fixed columns that wrap long words, so a table never spills out of its half of the console
_TABLE = "<table style='table-layout:fixed;width:100%;overflow-wrap:anywhere'>"
_RED, _GREEN = "#cf222e", "#1a7f37"


def _table(header: tuple[str, ...], widths: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """A small HTML table with these column widths (CSS); every cell is escaped here, so callers pass plain text."""
    head = "".join(f"<th style='text-align:left;padding-right:0.8em;width:{w}'>{html.escape(h)}</th>"
                   for h, w in zip(header, widths))
    body = "".join("<tr>" + "".join(f"<td style='padding-right:0.8em;vertical-align:top;line-height:1.3'>"
                                    f"{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return _SCROLL.format(f"{_TABLE}<tr>{head}</tr>{body}</table>")


def _paged(row) -> str:
    """The team a notification was routed to and its primary on call then ("shop-team: Hana Sato")."""
    if not row.team:
        return "-"
    return f"{row.team}: {row.primary or 'nobody on call'}"


def _outcome(events: list[Event]) -> str:
    return next((e.kind for e in events if e.kind in ("resolved", "abandoned")), "ended")


class DrillConsole(widgets.VBox):
    """The running drill as a widget: title, clock, roles, pager feed, timeline, and the mob's buttons.

    It only draws and forwards clicks; the drill itself lives in ``kit.drills``.
    Nothing refreshes by itself unless ``start()`` is called (``console()`` does).
    """

    def __init__(self, config: Config | None = None) -> None:
        self._config = sandbox.current_config(config)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._interval: float | None = None
        self._status: DrillStatus | None = None
        self._result: DrillResult | None = None
        self._plotted: tuple | None = None
        self._roles_shown: dict[str, str] = {}
        self._refresh_problem = False
        self._build()
        self.refresh()

    @property
    def status(self) -> DrillStatus | None:
        """The drill on show (``active`` False once it ended), or None when there is none."""
        return self._status

    @property
    def result(self) -> DrillResult | None:
        """How the drill ended, when it was ended from this console."""
        return self._result

    @property
    def refreshing(self) -> bool:
        """Whether the background auto-refresh is running."""
        return self._thread is not None and self._thread.is_alive()

    def refresh(self) -> DrillStatus | None:
        """Redraw from disk: the running drill, the one this console saw end, or how to start one."""
        with self._lock:
            try:
                self._follow()
                self._draw()
            except KitError as error:
                self._show_problem(error, from_refresh=True)
                return self._status
            if self._refresh_problem:
                self.problem.value = ""
                self._refresh_problem = False
            return self._status

    def start(self, interval: float = 2.0) -> None:
        """Refresh every ``interval`` seconds in a daemon thread, until the drill ends or ``stop()``."""
        if isinstance(interval, bool) or not isinstance(interval, Real) or not math.isfinite(interval) or interval <= 0:
            raise InvalidInput("interval", f"{interval!r} is not allowed; use a number of seconds more than 0")
        self.stop()
        self._stop = threading.Event()
        self._interval = float(interval)
        self._thread = threading.Thread(target=self._tick, args=(self._stop, self._interval), name="drill-console",
                                        daemon=True)
        self._thread.start()
        self.refresh()

    def stop(self) -> None:
        """Stop the auto-refresh and wait for its thread to finish."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=(self._interval or 0) + 30)
        self._interval = None

    def close(self) -> None:
        """Stop refreshing, then close the widgets."""
        self.stop()
        close_children(self)
        super().close()

    # ---------------------------------------------------------------- drawing

    def _build(self) -> None:
        # Laid out for one projected screen (1280x720, JupyterLab's side panel open): the buttons on
        # three rows, then the pager and the timeline side by side, newest first; the chart below them.
        compact = widgets.Layout(width="auto")
        self.title = widgets.HTML()
        self.elapsed = widgets.HTML()
        # room for the role's name and about 7 characters of a person's
        self.roles = {role: widgets.Text(description=role, placeholder="name", style={"description_width": "initial"},
                                         layout=widgets.Layout(width=f"{7 + 0.56 * len(role):.1f}em"))
                      for role in ROLES}
        self.save_roles_button = widgets.Button(description="Save roles", icon="users", layout=compact)
        self.who = widgets.Text(description="who", placeholder="your name", style={"description_width": "initial"},
                                layout=widgets.Layout(width="12em"))
        self.ack_button = widgets.Button(description="Acknowledge", button_style="warning", icon="bell-slash",
                                         layout=compact)
        self.note_text = widgets.Text(placeholder="a note: what you saw, thought or decided",
                                      layout=widgets.Layout(width="32em"))
        self.note_button = widgets.Button(description="Note", icon="pencil", layout=compact)
        self.hint_button = widgets.Button(description="Hint", icon="lightbulb-o", layout=compact)
        self.verify_button = widgets.Button(description="Verify", icon="check", layout=compact,
                                            tooltip="verify the steady-state hypothesis now, on the timeline")
        self.end_button = widgets.Button(description="End", button_style="danger", icon="flag-checkered",
                                         layout=compact,
                                         tooltip="resolve once the steady state holds again; writes the postmortem")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh", layout=compact)
        self.problem = widgets.HTML()
        self.message = widgets.HTML(layout=widgets.Layout(max_height="6em", overflow="auto"))
        self.pager_feed = widgets.HTML()
        self.timeline = widgets.HTML()
        self.plot = widgets.Output()
        for button, action in ((self.save_roles_button, self._save_roles), (self.ack_button, self._ack),
                               (self.note_button, self._note), (self.hint_button, self._hint),
                               (self.verify_button, self._verify), (self.end_button, self._end)):
            button.on_click(self._handler(action))
        self.refresh_button.on_click(lambda _: self.refresh())
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        column = widgets.Layout(width="50%", padding="0 0.5em 0 0")
        super().__init__(children=[
            self.title,
            self.elapsed,
            widgets.HBox([self.who, self.ack_button, self.hint_button, self.verify_button, self.end_button,
                          self.refresh_button], layout=wrap),
            widgets.HBox([self.note_text, self.note_button], layout=wrap),
            widgets.HBox([*self.roles.values(), self.save_roles_button], layout=wrap),
            self.problem,
            self.message,
            widgets.HBox([
                widgets.VBox([widgets.HTML("<b>Pager</b> (newest first)"), self.pager_feed], layout=column),
                widgets.VBox([widgets.HTML("<b>Timeline</b> (newest first)"), self.timeline], layout=column),
            ]),
            self.plot,
        ])
        # class names a browser (a test, a custom stylesheet) can find the parts by
        self.add_class("kit-drill-console")
        self.pager_feed.add_class("kit-drill-pager")
        self.timeline.add_class("kit-drill-timeline")

    def _follow(self) -> None:
        """Attach to the running drill, or notice that the one on show has ended."""
        try:
            current = drills.status(self._config)
        except CheckFailed:
            current = None
        if current is not None:
            if self._status is None or current.run != self._status.run:
                self._attach(current)
            self._status = current
        elif self._status is not None and self._status.active:
            events = drills.read_timeline(self._status.run, self._config)
            self._status = replace(self._status, events=events, active=False)
            path = self._config.paths.drill_postmortem(self._status.run)
            self.message.value = (f"The drill was ended elsewhere: {html.escape(_outcome(events))}. "
                                  f"Postmortem draft: <code>{html.escape(str(path))}</code>")

    def _attach(self, current: DrillStatus) -> None:
        """A new drill on show: its roles in the fields, nothing left over from the last one."""
        self._result = None
        self._plotted = None
        self.message.value = ""
        self._roles_shown = {}
        for field in self.roles.values():
            field.value = ""

    def _draw(self) -> None:
        status = self._status
        buttons = (self.save_roles_button, self.ack_button, self.note_button, self.hint_button, self.verify_button,
                   self.end_button)
        for button in buttons:
            button.disabled = status is None or not status.active
        if status is None:
            self._draw_idle()
            return
        self._show_roles(status.roles)
        events = status.visible_events()
        briefing = "" if status.secret else f"<div>{html.escape(status.scenario.briefing)}</div>"
        self.title.value = f"<h3 style='margin:0'>Drill: {html.escape(status.title)}</h3>{briefing}"
        if status.active:
            auto = f" (refreshing every {self._interval:g} s)" if self._interval and not self._stop.is_set() else ""
            self.elapsed.value = f"<b>running</b>, {clock(status.elapsed)} elapsed{auto}"
        else:
            end = next((e.t for e in reversed(events) if e.kind == "ended"), events[-1].t if events else 0.0)
            self.elapsed.value = (f"<b style='color:{_GREEN}'>{html.escape(_outcome(events))}</b>, "
                                  f"ended after {clock(end - status.started_at)}")
        self.pager_feed.value = self._notifications_html(status.started_at)
        self.timeline.value = _table(("time", "what", ""), ("4em", "9em", "auto"), [
            (f"+{clock(e.t - status.started_at)}", e.kind.replace("_", " "), e.text) for e in reversed(events)])
        # while the drill runs, the chart's "so far" moves with the clock above it
        now = time.time() if status.active else None
        key = (status.run, status.active, len(events), events[-1].t if events else None,
               clock(now - status.started_at) if now else None)
        if key != self._plotted:
            self._show_plot(events, status.started_at, now)
            self._plotted = key

    def _show_roles(self, roles: dict[str, str]) -> None:
        """The drill's roles as they are on disk, except in a field someone has typed in and not saved yet."""
        for role, field in self.roles.items():
            fresh = roles.get(role, "")
            if field.value == self._roles_shown.get(role, ""):
                field.value = fresh
            self._roles_shown[role] = fresh

    def _draw_idle(self) -> None:
        try:
            scenarios = ", ".join(s.id for s in drills.list_drills())
        except KitError:
            scenarios = ""
        self.title.value = "<h3 style='margin:0'>No drill is running</h3>"
        self.elapsed.value = ""
        self.message.value = (
            "Start one in a cell, then press Refresh (or build a new console):"
            f"<pre>{html.escape(START_HINT)}</pre>"
            + (f"Scenarios: {html.escape(scenarios)}" if scenarios else ""))
        self.pager_feed.value = "<i>no drill, so no notifications to show</i>"
        self.timeline.value = ""
        self.plot.outputs = ()
        self._plotted = None

    def _notifications_html(self, since: float) -> str:
        frame = pager.notifications(self._config, since=since)
        if not len(frame):
            return "<i>no notifications since the drill started</i>"
        rows = [(f"+{clock(row.received_at.timestamp() - since)}", f"{row.severity} {row.status}", row.alertname,
                 _paged(row), row.summary) for row in frame.iloc[::-1].itertuples()]
        return _table(("time", "", "alert", "paged", "summary"), ("4em", "6.5em", "auto", "auto", "auto"), rows)

    def _show_plot(self, events: list[Event], started_at: float, now: float | None) -> None:
        """Set the Output's content directly: safe from the refresh thread, unlike ``with output:``."""
        buffer = io.BytesIO()
        plots.drill_timeline(events, started_at=started_at, now=now).savefig(buffer, format="png", dpi=80)
        self.plot.outputs = ({"output_type": "display_data", "metadata": {},
                              "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                                       "text/plain": f"<drill timeline: {len(events)} events>"}},)

    def _show_problem(self, error: KitError, *, from_refresh: bool = False) -> None:
        self.problem.value = f"<span style='color:{_RED}'>{html.escape(str(error))}</span>"
        self._refresh_problem = from_refresh

    # ---------------------------------------------------------------- buttons

    def _handler(self, action: Callable[[], str]) -> Callable[[widgets.Button], None]:
        """Run one action, show its outcome (or its kit error), then redraw."""

        def on_click(_: widgets.Button) -> None:
            with self._lock:
                self.problem.value = ""
                self._refresh_problem = False
                try:
                    self.message.value = action()
                except KitError as error:
                    self.message.value = ""
                    self._show_problem(error)
                self.refresh()

        return on_click

    def _save_roles(self) -> str:
        """Save only the fields someone changed, over the roles as they are on disk now."""
        self._show_roles(drills.status(self._config).roles)
        changed = {role: field.value.strip() for role, field in self.roles.items()
                   if field.value.strip() and field.value.strip() != self._roles_shown.get(role, "")}
        event = drills.set_roles(changed, config=self._config)
        for role, who in event.data.get("roles", {}).items():
            self._roles_shown[role] = self.roles[role].value = who
        return html.escape(event.text)

    def _at(self, event: drills.Event) -> str:
        started = self._status.started_at if self._status is not None else event.t
        return f"{html.escape(event.text)} (at +{clock(event.t - started)})"

    def _ack(self) -> str:
        return self._at(drills.ack(by=self.who.value.strip(), config=self._config))

    def _note(self) -> str:
        event = drills.note(self.note_text.value, by=self.who.value.strip(), config=self._config)
        self.note_text.value = ""
        return "noted: " + self._at(event)

    def _hint(self) -> str:
        return "<b>Hint:</b> " + html.escape(drills.hint(config=self._config))

    def _verify(self) -> str:
        results = drills.verify_steady_state(config=self._config)
        verdict = "holds" if all(r.holds for r in results) else "does not hold yet"
        if self._status is not None and self._status.hidden:  # the probes' names would tell the secret scenario
            return f"<b>Verified:</b> the steady state {verdict}"
        lines = [f"<li style='color:{_GREEN if r.holds else _RED}'>{html.escape(str(r))}</li>" for r in results]
        return f"<b>Verified:</b> the steady state {verdict}<ul>{''.join(lines)}</ul>"

    def _end(self) -> str:
        shown = self._status or drills.status(self._config)  # CheckFailed, saying how to start one, if none runs
        if shown.active:
            self.message.value = (f"Waiting up to {shown.scenario.settle / shown.time_scale:.0f} s "
                                  "for the steady state to hold again…")
        result = drills.end(run=shown.run, config=self._config)
        self._result = result
        self._status = replace(shown, events=drills.read_timeline(result.run, self._config), active=False)
        self._stop.set()
        lines = "<br>".join(html.escape(line) for line in str(result).splitlines())
        return f"<b style='color:{_GREEN}'>Drill {html.escape(result.outcome)}.</b><br>{lines}"

    # ---------------------------------------------------------------- helpers

    def _tick(self, stop: threading.Event, interval: float) -> None:
        """The auto-refresh loop; it ends with the drill, so no thread outlives it."""
        while not stop.wait(interval):
            status = self.refresh()
            if status is None or not status.active:
                stop.set()
        self.refresh()


def console(config: Config | None = None) -> DrillConsole:
    """The console for a notebook cell: attached to the running drill and, if one runs, refreshing every 2 s."""
    view = DrillConsole(config)
    if view.status is not None and view.status.active:
        view.start()
    return view
