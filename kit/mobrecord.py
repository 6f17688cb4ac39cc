"""A mob's contribution record: who drove each turn, the cells run in it and the exercises they were, and a
copy of the notebook at every rotation that can be put back.

Beside a mob session file (``mob.json``), named after it:

- ``mob.log.jsonl``, the rotation log: one JSON line per finished turn (``TurnRecord``), only ever appended.
- ``mob.cells.jsonl``: one JSON line per cell run in a kernel that shows the timer (``CellRun``), appended
  as the cell starts, so a run belongs to the turn it started in.
- ``mob.snapshots/``: ``NNNN.ipynb``, a copy of the notebook, and ``NNNN.json`` saying when, why and
  from where; the newest ``SNAPSHOTS_KEPT`` are kept.

Shared documents have lost or duplicated cells after long disconnects; a snapshot per rotation bounds what
such a loss costs to one turn. kit.mob decides when a turn ends (the schedule) and calls this module under
the session's lock; this module knows the files only.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import jsonlines
from .atomicfile import write_atomically
from .errors import InvalidInput, KitError

SNAPSHOTS_KEPT = 30
"""How many notebook snapshots a session keeps: the newest, so a long session's folder stays bounded."""


def log_path(session: Path) -> Path:
    """The rotation log beside ``session``: ``mob.json`` → ``mob.log.jsonl``."""
    return session.with_name(f"{session.stem}.log.jsonl")


def cells_path(session: Path) -> Path:
    """The cell runs beside ``session``: ``mob.json`` → ``mob.cells.jsonl``."""
    return session.with_name(f"{session.stem}.cells.jsonl")


def snapshots_dir(session: Path) -> Path:
    """The notebook snapshots beside ``session``: ``mob.json`` → ``mob.snapshots/``."""
    return session.with_name(f"{session.stem}.snapshots")


@dataclass(frozen=True)
class CellRun:
    """One cell run: when it started (Unix seconds), its notebook cell id (None from a console) and notebook."""

    at: float
    cell_id: str | None
    notebook: str | None


@dataclass(frozen=True)
class TurnRecord:
    """One driver's turn in the rotation log.

    ``session`` is when that run of the timer started (Unix seconds; a reset begins a new run) and ``turn``
    counts from 1 within it. ``started``/``ended`` are Unix seconds, pauses included; ``ended`` is None
    while the turn is on. ``how`` it ended: "time", "skip" or "reset" ("" while on). ``cells`` are the ids
    of the cells run, in first-run order; ``runs`` counts every run (a cell run twice counts twice);
    ``exercises`` are the nbgrader grade_ids of those cells. ``snapshot`` is the number of the notebook
    copy taken when the turn ended (None if none was: no notebook known, or a turn before the last of a
    catch-up).
    """

    session: float
    turn: int
    driver: str
    navigator: str
    started: float
    ended: float | None
    how: str
    cells: tuple[str, ...]
    runs: int
    exercises: tuple[str, ...]
    away: tuple[str, ...]
    notebook: str | None
    snapshot: int | None

    @classmethod
    def from_json(cls, data: dict) -> TurnRecord:
        values = {**data, **{k: tuple(data[k]) for k in ("cells", "exercises", "away")}}
        return cls(**values)


@dataclass(frozen=True)
class Snapshot:
    """A copy of a notebook: ``number`` (never reused), Unix ``taken_at``, why, the ``notebook`` it copies."""

    number: int
    taken_at: float
    reason: str
    notebook: str
    cells: int
    bytes: int
    path: Path


@dataclass(frozen=True)
class Restored:
    """What ``restore_snapshot`` did: the snapshot put back, where, and the snapshot now holding what it replaced."""

    snapshot: int
    notebook: str
    kept: int | None


def append_lines(path: Path, records: Iterable[dict]) -> None:
    """Append JSON lines to a session's log (kit.jsonlines: whole lines, one locked write)."""
    jsonlines.append(path, records, hint="pass path= to a writable session file")


def read_lines(path: Path) -> list[dict]:
    """Every complete JSON line of ``path`` ([] if there is no file).

    A last line without its newline is a write still under way (or cut by a crash) and is left out; any other
    line that is not a JSON object is a KitError naming the file and line.
    """
    records = []
    try:
        for where, record in jsonlines.read(path):
            if not isinstance(record, dict):
                raise InvalidInput("line", "is not a JSON object", source=where)
            records.append(record)
    except InvalidInput as error:
        raise KitError(f"{error.source} {error.problem}; the file is damaged (move it aside to start a new one)") from None
    return records


def read_turns(session: Path) -> list[TurnRecord]:
    """The rotation log of the session file ``session``, oldest first."""
    log = log_path(session)
    try:
        return [TurnRecord.from_json(r) for r in read_lines(log)]
    except (TypeError, KeyError) as error:
        raise KitError(f"{log} holds a line that is not a turn ({error}); move the file aside to start a new log") from None


def turns_logged(session: Path, run: float) -> int:
    """How many turns of the timer run that started at ``run`` are in the log (turns are logged in order)."""
    return max((t.turn for t in read_turns(session) if t.session == run), default=0)


def note_cell_run(session: Path, run: CellRun) -> None:
    """Append one cell run beside ``session``."""
    append_lines(cells_path(session), [asdict(run)])


def read_runs(session: Path, since: float) -> list[CellRun]:
    """The cell runs beside ``session`` that started at ``since`` (Unix seconds) or later."""
    runs = []
    for r in read_lines(cells_path(session)):
        if isinstance(r.get("at"), (int, float)) and r["at"] >= since:
            runs.append(CellRun(r["at"], r.get("cell_id"), r.get("notebook")))
    return runs


def grade_ids(notebook: str | os.PathLike[str]) -> dict[str, str]:
    """Cell id → nbgrader grade_id of every graded or solution cell of a notebook on disk.

    {} when the notebook cannot be read: exercises are then left out of the record rather than guessed.
    """
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return {}
    ids = {}
    for cell in cells if isinstance(cells, list) else []:
        grade = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id") if isinstance(cell, dict) else None
        if isinstance(cell.get("id") if isinstance(cell, dict) else None, str) and isinstance(grade, str):
            ids[cell["id"]] = grade
    return ids


def summarize(runs: Sequence[CellRun]) -> tuple[tuple[str, ...], int, tuple[str, ...]]:
    """(cell ids in first-run order, number of runs, their exercises' grade_ids in first-run order)."""
    cells = tuple(dict.fromkeys(r.cell_id for r in runs if r.cell_id))
    books: dict[str, dict[str, str]] = {}
    exercises = []
    for r in runs:
        if r.cell_id and r.notebook:
            grades = books.setdefault(r.notebook, grade_ids(r.notebook))
            if r.cell_id in grades:
                exercises.append(grades[r.cell_id])
    return cells, len(runs), tuple(dict.fromkeys(exercises))


def append_turns(session: Path, turns: Sequence[TurnRecord]) -> None:
    """Add finished turns to the log; the caller holds the session's lock, so each turn is written once."""
    append_lines(log_path(session), [asdict(t) for t in turns])


LOG_COLUMNS = ("session", "turn", "driver", "navigator", "started", "ended", "minutes", "how", "cells",
               "cell_count", "runs", "exercises", "away", "notebook", "snapshot")


def frame(turns: Sequence[TurnRecord], now: float):
    """The log as a pandas DataFrame, one row per turn, oldest first; columns ``LOG_COLUMNS``:

    session, started, ended: UTC timestamps (the run's start; the turn's; ended NaT while the turn is on);
    turn: 1, 2, … within the run; driver, navigator: names; minutes: float, ended (or ``now``) minus started,
    pauses included; how: "time", "skip", "reset" or "on"; cells: tuple of cell ids; cell_count: distinct
    cells run; runs: runs counted every time; exercises: tuple of nbgrader grade_ids; away: tuple of names
    stepped away when it ended; notebook: path or None; snapshot: nullable int, the copy taken at its end.
    """
    import pandas as pd

    rows = [{
        "session": t.session, "turn": t.turn, "driver": t.driver, "navigator": t.navigator, "started": t.started,
        "ended": t.ended, "minutes": ((now if t.ended is None else t.ended) - t.started) / 60,
        "how": t.how or "on", "cells": t.cells, "cell_count": len(t.cells), "runs": t.runs,
        "exercises": t.exercises, "away": t.away, "notebook": t.notebook, "snapshot": t.snapshot,
    } for t in turns]
    table = pd.DataFrame(rows, columns=list(LOG_COLUMNS))
    for column in ("session", "started", "ended"):
        table[column] = pd.to_datetime(table[column].astype("float64"), unit="s", utc=True)
    for column in ("turn", "cell_count", "runs"):
        table[column] = table[column].astype("int64")
    table["minutes"] = table["minutes"].astype("float64")
    table["snapshot"] = table["snapshot"].astype("Int64")
    return table


# --- snapshots ----------------------------------------------------------------------------------------------


def list_snapshots(folder: Path) -> list[Snapshot]:
    """The snapshots in ``folder``, oldest first; a copy without its description (a crash between) is left out."""
    found = []
    for meta in sorted(folder.glob("[0-9]*.json")) if folder.is_dir() else ():
        copy = meta.with_suffix(".ipynb")
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            found.append(Snapshot(int(data["number"]), float(data["taken_at"]), str(data["reason"]),
                                  str(data["notebook"]), int(data["cells"]), copy.stat().st_size, copy))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda s: s.number)


def _cell_count(data: bytes) -> int:
    try:
        cells = json.loads(data).get("cells")
    except (ValueError, AttributeError):
        return 0
    return len(cells) if isinstance(cells, list) else 0


def take_snapshot(folder: Path, notebook: str | os.PathLike[str], *, reason: str, at: float,
                  keep: int = SNAPSHOTS_KEPT) -> Snapshot | None:
    """Copy ``notebook`` into ``folder`` as the next snapshot and drop all but the newest ``keep``.

    A notebook the same, byte for byte, as the newest snapshot is not copied again: that snapshot is
    returned, so idle rotations do not push real history out. None if the notebook does not exist.
    The caller holds the session's lock, so numbers are never given twice. Raises KitError if the folder
    cannot be written.
    """
    if keep < 1:
        raise InvalidInput("keep", f"{keep!r} is not allowed; keep at least 1 snapshot")
    source = Path(notebook)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise KitError(f"cannot read the notebook {source} to snapshot it: {error.strerror or error}") from None
    existing = list_snapshots(folder)
    if existing and existing[-1].notebook == str(source):
        newest = existing[-1]
        try:
            if hashlib.sha256(newest.path.read_bytes()).digest() == hashlib.sha256(data).digest():
                return newest
        except OSError:
            pass
    number = existing[-1].number + 1 if existing else 1
    copy = folder / f"{number:04d}.ipynb"
    meta = {"number": number, "taken_at": at, "reason": reason, "notebook": str(source), "cells": _cell_count(data)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(copy, data)
        write_atomically(copy.with_suffix(".json"), json.dumps(meta, indent=2).encode("utf-8"))
        for old in existing[: max(0, len(existing) + 1 - keep)]:
            old.path.with_suffix(".json").unlink(missing_ok=True)
            old.path.unlink(missing_ok=True)
    except OSError as error:
        raise KitError(f"cannot write a notebook snapshot in {folder}: {error.strerror or error}") from None
    return Snapshot(number, at, reason, str(source), meta["cells"], len(data), copy)


def restore_snapshot(folder: Path, number: int, *, at: float, keep: int = SNAPSHOTS_KEPT) -> Restored:
    """Put snapshot ``number`` back in place of its notebook, after saving the notebook as it is as a snapshot.

    Nothing is lost: what the restore replaces is itself a snapshot (``Restored.kept``; None if the notebook
    was gone). Raises InvalidInput for a number with no snapshot, naming the ones there are.
    """
    snapshots = {s.number: s for s in list_snapshots(folder)}
    if number not in snapshots:
        there = (f"the snapshots are {', '.join(str(n) for n in sorted(snapshots))}" if snapshots
                 else f"there are none in {folder}")
        raise InvalidInput("snapshot", f"no snapshot {number}; {there} (see `kit mob snapshots`)")
    chosen = snapshots[number]
    try:
        data = chosen.path.read_bytes()
    except OSError as error:
        raise KitError(f"cannot read snapshot {number} ({chosen.path}): {error.strerror or error}") from None
    kept = take_snapshot(folder, chosen.notebook, reason=f"before restoring snapshot {number}", at=at, keep=keep)
    target = Path(chosen.notebook)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(target, data, mode=target.stat().st_mode & 0o777 if target.exists() else 0o644)
    except OSError as error:
        raise KitError(f"cannot restore snapshot {number} to {target}: {error.strerror or error}") from None
    return Restored(number, str(target), kept.number if kept else None)


# --- the kernel's side: which notebook, which cells ------------------------------------------------------------


def kernel_notebook() -> str | None:
    """The notebook this kernel runs for, as an absolute path, or None outside a Jupyter kernel.

    Jupyter Server tells the kernel in JPY_SESSION_NAME (ipykernel also sets ``__session__`` from it): an
    absolute path when the frontend names the file (JupyterLab 4 does), else a path relative to the server's
    root, whose last part is in the kernel's working folder, the notebook's own.
    """
    name = os.environ.get("JPY_SESSION_NAME")
    if not name or not name.endswith(".ipynb"):
        return None
    path = Path(name)
    if not path.is_absolute():
        path = Path.cwd() / (path if (Path.cwd() / path).exists() else path.name)
    return str(path)


_watching: dict[int, dict[str, Any]] = {}


def watch_cells(session: Path, notebook: str | None, clock: Callable[[], float]) -> bool:
    """Note every cell this IPython kernel runs from now on beside ``session``; False outside IPython.

    One watcher per kernel: a later call (a re-run timer cell, another session file) moves it, so a run is
    never noted twice. Silent runs (a frontend's own requests) are not a mob's work and are left out.
    The cell id comes from the frontend (JupyterLab 4 sends it with each run).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    target = _watching.get(id(shell))
    if target is None:
        target = {}

        def pre_run_cell(info) -> None:
            if not info.silent:
                note_cell_run(target["session"], CellRun(target["clock"](), info.cell_id, target["notebook"]))

        shell.events.register("pre_run_cell", pre_run_cell)
        _watching[id(shell)] = target
    target.update(session=session, notebook=notebook, clock=clock)
    return True
