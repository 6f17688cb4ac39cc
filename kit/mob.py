"""A mob-programming timer: who drives, who navigates, and when to rotate.

The schedule is pure arithmetic over a saved session (plan, start time,
paused intervals, skips), so the same file gives the same driver and the
same remaining seconds after a kernel restart. ``MobTimer`` is a thin
ipywidgets view over that arithmetic. The file is the one state: every
change (a button or a call, from any timer on the file) reads it, changes
it and writes it back under a lock, and every view redraws from it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import html
import io
import json
import math
import os
import struct
import tempfile
import threading
import time
import wave
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path

import ipywidgets as widgets

from . import polling
from .config import Config
from .errors import InvalidInput, KitError

CUE_SECONDS = 15.0
"""How long the "Rotate!" banner stays up after a rotation, in active seconds."""

FILE_VERSION = 1

Clock = Callable[[], float]
Pause = tuple[float, float | None]


def _check_minutes(name: str, value: object, *, allow_zero: bool) -> float:
    bound = "0 or more" if allow_zero else "more than 0"
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise InvalidInput(name, f"{value!r} is not a number of minutes; use a number {bound}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(name, f"{value!r} is not allowed; use a number of minutes {bound}")
    return float(value)


@dataclass(frozen=True)
class MobPlan:
    """Who is in the mob and how long turns and breaks last; checked once, here."""

    roster: tuple[str, ...]
    turn_minutes: float = 7.0
    break_every: int = 5
    break_minutes: float = 10.0

    def __post_init__(self) -> None:
        if isinstance(self.roster, str) or not isinstance(self.roster, Iterable):
            raise InvalidInput("roster", "give a list of at least 2 names, e.g. ['Ana', 'Ben']")
        names = tuple(self.roster)
        if any(not isinstance(name, str) or not name.strip() for name in names):
            raise InvalidInput("roster", f"every name must be non-empty text; got {list(names)!r}")
        names = tuple(name.strip() for name in names)
        if len(names) < 2:
            raise InvalidInput("roster", f"a mob needs at least 2 people; got {len(names)}")
        seen: set[str] = set()
        for name in names:
            if name.casefold() in seen:
                raise InvalidInput("roster", f"names must be distinct; {name!r} appears twice")
            seen.add(name.casefold())
        object.__setattr__(self, "roster", names)
        object.__setattr__(self, "turn_minutes", _check_minutes("turn_minutes", self.turn_minutes, allow_zero=False))
        object.__setattr__(self, "break_minutes", _check_minutes("break_minutes", self.break_minutes, allow_zero=True))
        if isinstance(self.break_every, bool) or not isinstance(self.break_every, Integral) or self.break_every < 0:
            raise InvalidInput(
                "break_every", f"{self.break_every!r} is not allowed; use a whole number of turns, 0 or more (0 = no breaks)"
            )
        object.__setattr__(self, "break_every", int(self.break_every))

    @property
    def has_breaks(self) -> bool:
        return self.break_every > 0 and self.break_minutes > 0

    def segment(self, index: int) -> tuple[int, bool, float]:
        """(turn, on_break, seconds) of the index-th stretch; during a break, turn is the one after it."""
        if not self.has_breaks:
            return index, False, self.turn_minutes * 60
        cycle, position = divmod(index, self.break_every + 1)
        if position == self.break_every:
            return (cycle + 1) * self.break_every, True, self.break_minutes * 60
        return cycle * self.break_every + position, False, self.turn_minutes * 60

    def roles(self, turn: int) -> tuple[str, str, tuple[str, ...]]:
        """Driver, navigator and researchers of a turn: the navigator drives next, in roster order."""
        n = len(self.roster)
        ordered = tuple(self.roster[(turn + i) % n] for i in range(n))
        return ordered[0], ordered[1], ordered[2:]


@dataclass(frozen=True)
class MobMoment:
    """Everything a view needs to draw the timer at one instant."""

    turn: int
    on_break: bool
    driver: str
    navigator: str
    researchers: tuple[str, ...]
    seconds_left: float
    rotated: bool
    started: bool
    paused: bool

    @property
    def cue(self) -> str:
        """Banner text: a rotation or a break must be impossible to miss; otherwise empty."""
        if self.on_break:
            return f"Break! Back in {format_seconds(self.seconds_left)}, then {self.driver} drives"
        if self.rotated:
            return f"Rotate! {self.driver} drives now, {self.navigator} navigates"
        return ""


def format_seconds(seconds: float) -> str:
    """m:ss (or h:mm:ss), rounded up so 0:00 only shows when time is really up."""
    total = max(0, math.ceil(seconds - 1e-9))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def active_seconds(started_at: float | None, now: float, pauses: Sequence[Pause] = ()) -> float:
    """Seconds the mob has actually been working: wall time since start minus paused time."""
    if started_at is None or now <= started_at:
        return 0.0
    total = now - started_at
    for begin, end in pauses:
        end = now if end is None else end
        total -= max(0.0, min(end, now) - max(begin, started_at))
    return max(0.0, total)


def _locate(plan: MobPlan, elapsed: float, skips: Sequence[float]) -> tuple[int, float, float]:
    """(segment index, start, end) in active seconds of the stretch holding ``elapsed``."""
    pending = sorted(s for s in skips if s <= elapsed)
    per_cycle = plan.break_every + 1 if plan.has_breaks else 1
    cycle_seconds = sum(plan.segment(i)[2] for i in range(per_cycle))
    index, start, used = 0, 0.0, 0
    while True:
        if used == len(pending) and index % per_cycle == 0 and elapsed - start >= cycle_seconds:
            cycles = int((elapsed - start) // cycle_seconds)
            index += cycles * per_cycle
            start += cycles * cycle_seconds
        end = start + plan.segment(index)[2]
        if used < len(pending) and pending[used] < end:
            end = max(pending[used], start)
            used += 1
        if elapsed < end:
            return index, start, end
        index, start = index + 1, end


def moment_at(
    plan: MobPlan,
    started_at: float | None,
    now: float,
    pauses: Sequence[Pause] = (),
    skips: Sequence[float] = (),
    cue_seconds: float = CUE_SECONDS,
) -> MobMoment:
    """The timer's state at ``now``; ``skips`` are active-second offsets where someone pressed Skip."""
    elapsed = active_seconds(started_at, now, pauses)
    index, start, end = _locate(plan, elapsed, skips)
    turn, on_break, _ = plan.segment(index)
    driver, navigator, researchers = plan.roles(turn)
    return MobMoment(
        turn=turn,
        on_break=on_break,
        driver=driver,
        navigator=navigator,
        researchers=researchers,
        seconds_left=end - elapsed,
        rotated=not on_break and turn > 0 and elapsed - start < cue_seconds,
        started=started_at is not None,
        paused=started_at is not None and any(e is None and b <= now for b, e in pauses),
    )


@dataclass(frozen=True)
class MobSession:
    """The whole saved state of a timer; every change returns a new session so it can be written at once."""

    plan: MobPlan
    started_at: float | None = None
    pauses: tuple[Pause, ...] = ()
    skips: tuple[float, ...] = ()

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None

    @property
    def running(self) -> bool:
        return self.started_at is not None and not self.paused

    def start(self, now: float) -> MobSession:
        """Start the clock, or continue it after a pause."""
        if self.started_at is None:
            return MobSession(self.plan, now, (), self.skips)
        if self.paused:
            begin = self.pauses[-1][0]
            return MobSession(self.plan, self.started_at, self.pauses[:-1] + ((begin, max(begin, now)),), self.skips)
        return self

    def pause(self, now: float) -> MobSession:
        """Stop the clock without losing the turn; paused time never counts."""
        if not self.running:
            return self
        return MobSession(self.plan, self.started_at, self.pauses + ((now, None),), self.skips)

    def skip(self, now: float, turn: int | None = None) -> MobSession:
        """End the current turn (or break) now, so the navigator drives.

        With ``turn`` (0-based), only if that turn is still on: a second press of a
        view that showed turn ``turn`` does not skip the turn after it too.
        """
        if turn is not None and self.moment(now).turn != turn:
            return self
        offset = active_seconds(self.started_at, now, self.pauses)
        return MobSession(self.plan, self.started_at, self.pauses, self.skips + (offset,))

    def reset(self) -> MobSession:
        """Back to turn 1, not started, same plan."""
        return MobSession(self.plan)

    def moment(self, now: float, cue_seconds: float = CUE_SECONDS) -> MobMoment:
        return moment_at(self.plan, self.started_at, now, self.pauses, self.skips, cue_seconds)

    def to_json(self) -> dict:
        return {
            "version": FILE_VERSION,
            "plan": {
                "roster": list(self.plan.roster),
                "turn_minutes": self.plan.turn_minutes,
                "break_every": self.plan.break_every,
                "break_minutes": self.plan.break_minutes,
            },
            "started_at": self.started_at,
            "pauses": [list(p) for p in self.pauses],
            "skips": list(self.skips),
        }

    @classmethod
    def from_json(cls, data: object) -> MobSession:
        """Rebuild a session, raising ValueError on anything a person could not have saved."""
        if not isinstance(data, dict) or data.get("version") != FILE_VERSION:
            raise ValueError(f"expected an object with \"version\": {FILE_VERSION}")
        plan_data = data.get("plan")
        if not isinstance(plan_data, dict) or set(plan_data) != {"roster", "turn_minutes", "break_every", "break_minutes"}:
            raise ValueError("\"plan\" must hold roster, turn_minutes, break_every and break_minutes")
        if not isinstance(plan_data["roster"], list):
            raise ValueError("\"plan.roster\" must be a list of names")
        plan = MobPlan(**plan_data)
        started_at = data.get("started_at")
        if started_at is not None and not _is_time(started_at):
            raise ValueError("\"started_at\" must be a number or null")
        pauses = data.get("pauses")
        if not isinstance(pauses, list) or not all(
            isinstance(p, list) and len(p) == 2 and _is_time(p[0]) and (p[1] is None or _is_time(p[1])) for p in pauses
        ):
            raise ValueError("\"pauses\" must be a list of [begin, end-or-null] pairs")
        if any(p[1] is None for p in pauses[:-1]):
            raise ValueError("only the last pause may still be open")
        skips = data.get("skips")
        if not isinstance(skips, list) or not all(_is_time(s) for s in skips):
            raise ValueError("\"skips\" must be a list of numbers")
        return cls(plan, started_at, tuple((p[0], p[1]) for p in pauses), tuple(skips))


def _is_time(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def default_path() -> Path:
    """Where the session lives unless told otherwise: the per-user kit state directory."""
    return Config.from_env().paths.mob_session


def _reset_hint(path: Path) -> str:
    return f"To start over, delete it (rm '{path}') or pass fresh=True: MobTimer(roster=[...], path=..., fresh=True)."


def save_session(session: MobSession, path: Path) -> None:
    """Write atomically so a crash mid-write never leaves half a file behind."""
    text = json.dumps(session.to_json(), indent=2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as error:
        raise KitError(f"cannot save the mob session to {path}: {error.strerror or error}; pass path= to a writable file") from None


@contextlib.contextmanager
def _session_lock(path: Path):
    """One change at a time to a session file, whichever kernel, timer or thread makes it.

    The lock is on the folder, so that no lock file is left beside the session.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent, os.O_RDONLY)
    except OSError as error:
        raise KitError(f"cannot save the mob session to {path}: {error.strerror or error}; "
                       "pass path= to a writable file") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def change_session(path: Path, update: Callable[[MobSession], MobSession], default: MobSession) -> MobSession:
    """Read the session on disk (``default`` if there is none), apply ``update`` and save it, under one lock."""
    with _session_lock(path):
        session = update(load_session(path) or default)
        save_session(session, path)
        return session


def _file_key(path: Path) -> tuple[int, int, int] | None:
    """Changes whenever the file is replaced (``save_session`` writes a new file each time)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@functools.cache
def chime_wav(seconds: float = 0.35, rate: int = 8000) -> bytes:
    """A short two-note chime (E6 then A5, 16-bit mono WAV) that says "rotate" to people not looking at the screen."""
    frames = bytearray()
    count = int(seconds * rate)
    for i in range(count):
        t = i / rate
        pitch = 1318.5 if i < count // 2 else 880.0
        fade = 1.0 - (i % (count // 2)) / (count // 2)
        frames += struct.pack("<h", int(12000 * fade * math.sin(2 * math.pi * pitch * t)))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


def cue_html(key: str) -> str:
    """An audio element that plays the chime once as the browser shows it; ``key`` makes each cue a new element."""
    data = base64.b64encode(chime_wav()).decode("ascii")
    return f"<audio class='kit-mob-chime' data-cue='{html.escape(key)}' autoplay src='data:audio/wav;base64,{data}'></audio>"


def load_session(path: Path) -> MobSession | None:
    """The saved session, or None if there is none; a damaged file is a KitError that says how to reset."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise KitError(f"cannot read the mob session file {path}: {error}. {_reset_hint(path)}") from None
    try:
        return MobSession.from_json(json.loads(text))
    except (ValueError, TypeError) as error:
        raise KitError(f"the mob session file {path} is damaged ({error}). {_reset_hint(path)}") from None


_STYLES = {
    "idle": ("#57606a", "#f6f8fa"),
    "running": ("#0a3069", "#ddf4ff"),
    "paused": ("#57606a", "#eaeef2"),
    "rotate": ("#ffffff", "#bf3989"),
    "break": ("#ffffff", "#1a7f37"),
}


class MobTimer(widgets.VBox):
    """The timer as a notebook widget; all timing comes from ``MobSession``, this only draws and saves.

    Passing the same roster and timings again (e.g. re-running the cell after a
    kernel restart) continues the saved session; a different plan starts a new one.
    ``clock`` returns wall-clock seconds, because a session must outlive the kernel.
    Every timer on the same file shows and changes the same session. A rotation
    or a break is also heard: a short chime, unless ``sound`` is False or the
    widget's sound toggle is off.
    """

    def __init__(
        self,
        roster: Sequence[str] | None = None,
        turn_minutes: float = 7,
        break_every: int = 5,
        break_minutes: float = 10,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Clock = time.time,
        fresh: bool = False,
        tick: bool = True,
        sound: bool = True,
    ) -> None:
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._path = Path(path) if path is not None else default_path()
        self._clock = clock
        self._lock = threading.RLock()
        self._segment: tuple[int, bool] | None = None
        self._shown_turn: int | None = None
        self.cues = 0
        """How many rotation or break cues this timer has sounded."""
        saved = None if fresh else load_session(self._path)
        if roster is None:
            if saved is None:
                raise InvalidInput("roster", f"no saved mob session at {self._path}; start one with MobTimer(roster=['Ana', 'Ben', ...])")
            self._session = saved
        else:
            plan = MobPlan(roster, turn_minutes, break_every, break_minutes)
            self._session = saved if saved is not None and saved.plan == plan else MobSession(plan)
            if self._session is not saved:
                with _session_lock(self._path):
                    save_session(self._session, self._path)
        self._seen = _file_key(self._path)
        self._build()
        self.sound.value = bool(sound)
        self.refresh()
        if tick:
            self._ticker = threading.Thread(target=self._tick, name="mob-timer", daemon=True)
            self._ticker.start()

    @classmethod
    def resume(cls, path: str | os.PathLike[str] | None = None, *, clock: Clock = time.time, tick: bool = True) -> MobTimer:
        """Bring back the saved session, e.g. after a kernel restart."""
        return cls(path=path, clock=clock, tick=tick)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def session(self) -> MobSession:
        """The session as it is in the file now, whoever changed it last."""
        with self._lock:
            self._reload()
            return self._session

    def moment(self) -> MobMoment:
        """Who drives and how long is left, right now."""
        return self.session.moment(self._clock())

    def start(self) -> None:
        """Start, or continue after Pause."""
        self._change(lambda s, now: s.start(now))

    def pause(self) -> None:
        self._change(lambda s, now: s.pause(now))

    def skip(self, turn: int | None = None) -> None:
        """Rotate now: the navigator drives. With ``turn`` (0-based), only if that turn is still on."""
        self._change(lambda s, now: s.skip(now, turn))

    def reset(self) -> None:
        """Back to the first driver with a full turn, stopped."""
        self._change(lambda s, now: s.reset())

    def close(self) -> None:
        """Stop ticking, then close the widgets."""
        self._stop.set()
        close_children(self)
        super().close()

    def refresh(self) -> MobMoment:
        """Redraw from the clock and the session file; the ticker calls this every second."""
        with self._lock:
            self._reload()
            session = self._session
            m = session.moment(self._clock())
            plan = session.plan
            kind = "break" if m.on_break else "rotate" if m.rotated else "paused" if m.paused else "running" if m.started else "idle"
            color, background = _STYLES[kind]
            label = "Break" if m.on_break else f"Turn {m.turn + 1}"
            state = " (paused)" if m.paused else "" if m.started else " (press Start)"
            self.countdown.value = (
                # the widget's own line height is one line of small text; the digits need their own
                f"<div style='font-size:3.5em;line-height:1.2;font-weight:bold;padding:0.1em 0.4em;border-radius:8px;"
                f"color:{color};background:{background}'>{format_seconds(m.seconds_left)}</div>"
                f"<div>{label}{state}</div>"
            )
            self.banner.value = (
                f"<div style='font-size:1.6em;line-height:1.3;font-weight:bold;padding:0.3em 0.6em;border-radius:6px;"
                f"color:{color};background:{background}'>{html.escape(m.cue)}</div>"
                if m.cue
                else ""
            )
            self.driver_label.value = f"Driver: <b>{html.escape(m.driver)}</b>"
            self.navigator_label.value = f"Navigator: <b>{html.escape(m.navigator)}</b>"
            self.researchers_label.value = "Researchers: " + (html.escape(", ".join(m.researchers)) or "(nobody)")
            self.order_label.value = "Order: " + " → ".join(
                f"<b>{html.escape(n)}</b>" if n == m.driver else html.escape(n) for n in plan.roster
            ) + " → …"
            self._cue(m)
            self._shown_turn = m.turn
            self.start_button.description = "Resume" if m.paused else "Start"
            self.start_button.disabled = session.running
            self.pause_button.disabled = not session.running
            return m

    def _reload(self) -> None:
        """Take the session from its file if anyone (another timer, kernel or button) changed it."""
        key = _file_key(self._path)
        if key is None or key == self._seen:
            return
        try:
            saved = load_session(self._path)
        except KitError as error:
            self.problem.value = f"<span style='color:#cf222e'>{html.escape(str(error))}</span>"
            return
        if saved is not None:
            self._session = saved
        self._seen = key

    def _cue(self, m: MobMoment) -> None:
        """Chime once when a new turn (after the first) or a break begins; never for the one on show at start."""
        segment = (m.turn, m.on_break) if m.started else None
        if segment != self._segment and self._segment is not None and (m.rotated or m.on_break):
            if self.sound.value:
                self.chime.value = cue_html(f"{m.turn}-{'break' if m.on_break else 'turn'}")
                self.cues += 1
        elif not m.cue:
            self.chime.value = ""
        self._segment = segment

    def _build(self) -> None:
        self.banner = widgets.HTML()
        self.chime = widgets.HTML(layout=widgets.Layout(height="0px", overflow="hidden"))
        self.sound = widgets.ToggleButton(value=True, description="Sound", icon="bell",
                                          tooltip="chime when it is time to rotate or take a break",
                                          layout=widgets.Layout(width="auto"))
        self.countdown = widgets.HTML(layout=widgets.Layout(width="auto"))
        self.driver_label = widgets.HTML()
        self.navigator_label = widgets.HTML()
        self.researchers_label = widgets.HTML()
        self.order_label = widgets.HTML()
        self.problem = widgets.HTML()
        # width auto: a fixed-width button cuts its label off with an ellipsis
        fits = widgets.Layout(width="auto")
        self.start_button = widgets.Button(description="Start", button_style="success", icon="play", layout=fits)
        self.pause_button = widgets.Button(description="Pause", icon="pause", layout=fits)
        self.skip_button = widgets.Button(description="Skip (rotate now)", button_style="warning", icon="forward",
                                          layout=fits)
        self.reset_button = widgets.Button(description="Reset", button_style="danger", icon="undo", layout=fits)
        for button, action in (
            (self.start_button, self.start),
            (self.pause_button, self.pause),
            (self.skip_button, lambda: self.skip(self._shown_turn)),
            (self.reset_button, self.reset),
        ):
            button.on_click(self._handler(action))
        buttons = widgets.HBox([self.start_button, self.pause_button, self.skip_button, self.reset_button,
                                self.sound], layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__(
            children=[
                self.banner,
                self.countdown,
                self.driver_label,
                self.navigator_label,
                self.researchers_label,
                self.order_label,
                buttons,
                self.problem,
                self.chime,
            ]
        )
        # class names a browser (a test, a custom stylesheet) can find the parts by
        self.add_class("kit-mob-timer")
        self.countdown.add_class("kit-mob-countdown")

    def _handler(self, action: Callable[[], None]) -> Callable[[widgets.Button], None]:
        """Button callbacks have nowhere to raise to, so kit errors are shown under the buttons."""

        def on_click(_: widgets.Button) -> None:
            try:
                action()
            except KitError as error:
                self.problem.value = f"<span style='color:#cf222e'>{html.escape(str(error))}</span>"

        return on_click

    def _change(self, update: Callable[[MobSession, float], MobSession]) -> None:
        with self._lock:
            self._session = change_session(self._path, lambda s: update(s, self._clock()), self._session)
            self._seen = _file_key(self._path)
            self.problem.value = ""
            self.refresh()

    def _tick(self) -> None:
        polling.every(1.0, self.refresh, stop=self._stop)


def close_children(root: widgets.Widget) -> None:
    """Close every widget below ``root``: closing a box alone would leave its children's comms open."""
    pending = list(root.children)
    while pending:
        child = pending.pop()
        pending.extend(getattr(child, "children", ()))
        child.close()
