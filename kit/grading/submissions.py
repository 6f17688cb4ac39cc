"""Learners' notebooks as they reach the grader: where they are, whether they read, and what happened to them.

Pure functions on files and notebook dicts; :mod:`kit.grading` runs nbgrader on what they return.

* :func:`find` maps a folder of submissions to one notebook per student and refuses a folder
  in which two entries claim the same student, so no submission is ever dropped unannounced.
* :func:`load` reads a notebook or says why it is not one.
* :func:`repair` undoes what editors do to a notebook's graded cells (split or copied cells
  with duplicate grade ids, deleted, moved or retyped cells, stripped metadata) so nbgrader
  grades every exercise, and returns a note per cell that names it and says what happened.
  The rules follow nbgrader's own: of cells sharing a grade id the last one counts
  (``DeduplicateIds``), a locked cell runs with its released source and type
  (``OverwriteCells``), and a deleted test cell is put back after the cells it tests
  (``OverwriteCells.add_missing_cells``). They run here rather than in nbgrader because
  nbgrader 0.9 fails the whole notebook on the metadata its ``DeduplicateIds`` leaves
  behind, and because ``add_missing_cells`` would put back a test cell the grader removed
  from grading after it killed the kernel.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import InvalidInput

__all__ = ["CellNote", "Repaired", "Submission", "exercise_of", "find", "load", "repair"]

_HIDDEN = (".", "__")  # .ipynb_checkpoints, .git, __MACOSX, __pycache__


# ---------------------------------------------------------------- finding submissions


@dataclass(frozen=True)
class Submission:
    """One student's notebook: ``path`` is None when none can be graded and ``problem`` says why.

    ``entry`` is the student's folder or file in the submissions folder. ``notes`` name other
    notebooks found for the student that were not graded, or a notebook graded from an unusual place.
    """

    student: str
    entry: Path
    path: Path | None
    notes: tuple[str, ...] = ()
    problem: str = ""


def find(folder: Path, lab: str, *, other_labs: Iterable[str] = (), skip: Iterable[Path] = ()) -> tuple[
        list[Submission], list[str]]:
    """Students in ``folder``: ``<student>/`` (nbgrader's ``<student>/<lab>/<lab>.ipynb``) or ``<student>.ipynb``.

    Returns the submissions sorted by student, and the entries that are neither (named, so a
    facilitator sees a stray ``.zip``). ``skip`` are files the caller writes there (the gradebook).
    Raises InvalidInput naming both entries when two claim one student: a folder and a notebook
    of the same name, or names that differ only by case.
    """
    skipped = {Path(p).resolve() for p in skip}
    claims: dict[str, list[Path]] = {}
    ignored = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(_HIDDEN) or entry.resolve() in skipped:
            continue
        if entry.is_dir():
            claims.setdefault(entry.name.casefold(), []).append(entry)
        elif entry.suffix.lower() == ".ipynb":
            claims.setdefault(entry.stem.casefold(), []).append(entry)
        else:
            ignored.append(f"{entry.name} (neither a student folder nor a .ipynb)")
    clashes = [entries for entries in claims.values() if len(entries) > 1]
    if clashes:
        raise InvalidInput("submissions", "; ".join(_clash(entries, folder) for entries in clashes)
                           + ". Keep one submission per student and grade again")
    found = []
    for (entry,) in claims.values():
        if entry.is_dir():
            found.append(_in_folder(entry, folder, lab, set(other_labs)))
        else:
            found.append(Submission(entry.stem, entry, entry))
    return sorted(found, key=lambda s: s.student), ignored


def _clash(entries: list[Path], folder: Path) -> str:
    names = [_shown(e, folder) for e in entries]
    listed = " and ".join([", ".join(names[:-1]), names[-1]])
    stems = {e.name if e.is_dir() else e.stem for e in entries}
    why = "names that differ only by case" if len(stems) > 1 else "the same student"
    return f"{listed} are two submissions of one student ({why})"


def _in_folder(student_dir: Path, folder: Path, lab: str, other_labs: set[str]) -> Submission:
    student = student_dir.name
    expected = [student_dir / lab / f"{lab}.ipynb", student_dir / f"{lab}.ipynb"]
    notebooks = sorted(_notebooks(student_dir, other_labs))
    chosen = next((p for p in expected if p in notebooks), None)
    if chosen is None and len(notebooks) == 1:
        chosen = notebooks[0]
        return Submission(student, student_dir, chosen, (
            f"graded {_shown(chosen, folder)}, the only notebook in the folder "
            f"(expected {_shown(expected[0], folder)})",))
    if chosen is None:
        where = _shown(expected[0], folder)
        if not notebooks:
            return Submission(student, student_dir, None,
                              problem=f"no notebook in {_shown(student_dir, folder)}/ (expected {where})")
        listed = ", ".join(_shown(p, folder) for p in notebooks)
        return Submission(student, student_dir, None, problem=(
            f"{len(notebooks)} notebooks and none at {where}: {listed}; keep the one to grade there"))
    graded = _shown(chosen, folder)
    notes = tuple(f"not graded: {_shown(p, folder)} (graded {graded})" for p in notebooks if p != chosen)
    return Submission(student, student_dir, chosen, notes)


def _notebooks(student_dir: Path, other_labs: set[str]) -> Iterable[Path]:
    """Notebooks anywhere in a student's folder, except checkpoints and other labs' notebooks."""
    for path in student_dir.rglob("*"):
        parts = path.relative_to(student_dir).parts
        if any(p.startswith(_HIDDEN) or p in other_labs for p in parts[:-1]) or parts[-1].startswith(_HIDDEN):
            continue
        if path.suffix.lower() == ".ipynb" and path.is_file() and path.stem not in other_labs:
            yield path


def _shown(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


# ---------------------------------------------------------------- reading one


def load(path: Path) -> dict:
    """The notebook at ``path`` as nbformat reads it; InvalidInput(field "notebook") saying why it is not one."""
    import nbformat

    if not path.is_file():
        raise InvalidInput("notebook", f"{path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput("notebook", f"cannot read {path}: {exc}") from None
    if not text.strip():
        raise InvalidInput("notebook", f"{path} is an empty file, not a Jupyter notebook (saved while empty, "
                                       "or the upload failed)")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInput("notebook", f"{path} is not a Jupyter notebook: not valid JSON ({exc}); cut short "
                                       "by an upload or a full disk?") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise InvalidInput("notebook", f"{path} is not a Jupyter notebook: JSON without a list of cells")
    try:
        with warnings.catch_warnings():
            # nbformat warns about duplicate or missing cell ids and fixes them; repair() reports them.
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
    except Exception as exc:  # nbformat raises many types for the many ways a file is not a notebook
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InvalidInput("notebook", f"{path} is not a Jupyter notebook ({reason})") from None
    return notebook


# ---------------------------------------------------------------- repairing one


@dataclass(frozen=True)
class CellNote:
    """What happened to one cell: ``text`` names it (grade id, exercise, its number in the learner's notebook)."""

    exercise: str
    """The exercise the cell belongs to; empty for a cell that is not the lab's."""
    text: str


@dataclass(frozen=True)
class Repaired:
    """A submission ready for nbgrader and what was done to it.

    ``origin[i]`` is the learner's 1-based number of cell ``i`` of ``notebook`` (None for a cell the
    grader put back), so a cell nbgrader names by index can be named to the learner.
    """

    notebook: dict
    notes: list[CellNote]
    origin: list[int | None]
    kinds: Mapping[str, str] = field(default_factory=dict)
    """grade id → "answer", "test" or "text" as the lab defines it."""

    def describe(self, index: int) -> tuple[str, str]:
        """(exercise, "answer cell X (exercise E, cell N)") for cell ``index`` of ``notebook``."""
        cell = self.notebook["cells"][index]
        grade_id = _grade_id(cell)
        number = self.origin[index]
        where = f"cell {number}" if number else "put back by the grader"
        if grade_id in self.kinds and self.kinds[grade_id] != "text":
            exercise = exercise_of(grade_id)
            return exercise, f"{self.kinds[grade_id]} cell {grade_id} (exercise {exercise}, {where})"
        return "", f"cell {number} (not one of the lab's cells)"

    def skipping(self, skipped: Mapping[int, str], tag: str) -> tuple[dict, list[CellNote]]:
        """The notebook with cells ``skipped`` (index → what they did) tagged ``tag`` so nbclient skips them.

        A skipped test cell also loses its nbgrader metadata: nbgrader scores a test cell that
        produced no error as passed, and one that did not run must score 0.
        """
        notebook = copy.deepcopy(self.notebook)
        notes = list(self.notes)
        for index, what in sorted(skipped.items()):
            cell = notebook["cells"][index]
            cell.setdefault("metadata", {}).setdefault("tags", []).append(tag)
            exercise, label = self.describe(index)
            if self.kinds.get(_grade_id(cell)) == "test":
                del cell["metadata"]["nbgrader"]
            notes.append(CellNote(exercise, f"{label} {what}: the grader skipped it and graded the rest"))
        return notebook, notes


def exercise_of(grade_id: str) -> str:
    """The exercise of a grade id: the text before its first ``-`` (see kit.grading's conventions)."""
    return grade_id.split("-", 1)[0]


def repair(submitted: Mapping, released: Mapping) -> Repaired:
    """Match a learner's cells to the released notebook's graded cells and undo editors' damage.

    ``released`` is the lab's notebook as nbgrader released it (cell ids, nbgrader metadata).
    Steps, each noted per cell: unique cell ids; metadata of a grade id the lab does not have
    removed; of cells sharing a grade id only the last keeps it; metadata lost by another editor
    restored (found by cell id, a test cell by its released source, a code answer as the one plain
    code cell between the graded cells around it); a deleted test cell put
    back after its exercise's cells; a test cell above an answer it follows in the lab moved below
    it; a changed cell type changed back (as nbgrader would); every graded cell's nbgrader metadata
    reset to the released one, so nbgrader never sees a malformed or outdated copy.
    """
    reference = [c for c in released["cells"] if _grade_id(c)]
    by_id = {_grade_id(c): c for c in reference}
    kinds = {g: _kind(c) for g, c in by_id.items()}
    cells = [copy.deepcopy(dict(c)) for c in submitted["cells"]]
    origin: list[int | None] = list(range(1, len(cells) + 1))
    notes: list[CellNote] = []

    def label(index: int, grade_id: str) -> str:
        return f"{kinds[grade_id]} cell {grade_id} (exercise {exercise_of(grade_id)}, cell {origin[index]})"

    def note(grade_id: str, text: str) -> None:
        if kinds[grade_id] != "text":  # instructions cells carry no points; restoring them needs no word
            notes.append(CellNote(exercise_of(grade_id), text))

    _unique_cell_ids(cells)
    for index, cell in enumerate(cells):
        grade_id = _grade_id(cell)
        if grade_id and grade_id not in by_id:
            del cell["metadata"]["nbgrader"]
            notes.append(CellNote("", f"cell {origin[index]} carries nbgrader metadata of a cell this lab does not "
                                      f"have ({grade_id!r}, copied from another notebook?): it ran as a plain cell"))
        elif "nbgrader" in cell.get("metadata", {}) and not grade_id:
            del cell["metadata"]["nbgrader"]

    positions: dict[str, list[int]] = {}
    for index, cell in enumerate(cells):
        if _grade_id(cell):
            positions.setdefault(_grade_id(cell), []).append(index)
    for grade_id, where in positions.items():
        if len(where) > 1:
            for index in where[:-1]:
                del cells[index]["metadata"]["nbgrader"]
            numbers = [str(origin[i]) for i in where]
            if kinds[grade_id] == "test":
                what = f"cell {numbers[-1]} was graded, the others ran as plain cells"
            elif by_id[grade_id]["cell_type"] == "code":
                what = "all ran in order, as the learner's code"
            else:
                what = f"cell {numbers[-1]} is the written answer a facilitator marks"
            note(grade_id, f"{kinds[grade_id]} cell {grade_id} (exercise {exercise_of(grade_id)}) appears "
                           f"{len(where)} times, as cells {', '.join(numbers[:-1])} and {numbers[-1]} "
                           f"(a split or copied cell): {what}")

    present = {_grade_id(c) for c in cells if _grade_id(c)}
    graded = [g for g in by_id if kinds[g] != "text"]
    lab_code = {_source(c) for c in released["cells"] if c.get("cell_type") == "code" and not _grade_id(c)}
    # Cells found by id or source first: they are the landmarks that place an answer cell without either.
    for by_position in (False, True):
        for grade_id, ref in by_id.items():
            if grade_id in present:
                continue
            if not by_position:
                index = _stripped_copy(cells, ref, kinds[grade_id])
            elif kinds[grade_id] == "answer" and ref["cell_type"] == "code":
                index = _only_code_between(cells, grade_id, graded, lab_code)
            else:
                continue
            if index is not None:
                cells[index].setdefault("metadata", {})["nbgrader"] = copy.deepcopy(ref["metadata"]["nbgrader"])
                present.add(grade_id)
                note(grade_id, f"{label(index, grade_id)} had lost its nbgrader metadata (saved by an editor that "
                               "drops it?): the grader restored it")

    for grade_id, ref in by_id.items():
        if grade_id in present:
            continue
        if kinds[grade_id] == "test":
            after = _insert_after(cells, grade_id, list(by_id))
            cells.insert(after + 1, copy.deepcopy(dict(ref)))
            origin.insert(after + 1, None)
            anchor = f"after {_grade_id(cells[after]) or f'cell {origin[after]}'}" if after >= 0 else "at the top"
            note(grade_id, f"test cell {grade_id} (exercise {exercise_of(grade_id)}) was deleted: the grader put "
                           f"it back {anchor} and ran it")
        elif kinds[grade_id] == "answer":
            note(grade_id, f"answer cell {grade_id} (exercise {exercise_of(grade_id)}) is missing: deleted, or its "
                           "nbgrader metadata removed by another editor")

    order = list(by_id)
    for grade_id in [g for g in order if kinds[g] == "test"]:
        index = next(i for i, c in enumerate(cells) if _grade_id(c) == grade_id)
        tested = {g for g in order[:order.index(grade_id)]
                  if kinds[g] == "answer" and exercise_of(g) == exercise_of(grade_id)}
        answers = [i for i, c in enumerate(cells) if _grade_id(c) in tested]
        if answers and answers[-1] > index:
            answer = _grade_id(cells[answers[-1]])
            note(grade_id, f"{label(index, grade_id)} was above its answer cell {answer}: the grader ran it "
                           "after the answer")
            # Popping the test shifts the answer up by one, so its old index is just after it.
            cells.insert(answers[-1], cells.pop(index))
            origin.insert(answers[-1], origin.pop(index))

    for index, cell in enumerate(cells):
        grade_id = _grade_id(cell)
        if not grade_id:
            continue
        ref = by_id[grade_id]
        if cell.get("cell_type") != ref["cell_type"]:
            note(grade_id, f"{label(index, grade_id)} was changed to a {cell.get('cell_type')} cell: the grader "
                           f"changed it back to {ref['cell_type']}, as the lab has it")
            _retype(cell, ref["cell_type"])
        cell["metadata"]["nbgrader"] = copy.deepcopy(ref["metadata"]["nbgrader"])
    _unique_cell_ids(cells)

    notebook = {key: copy.deepcopy(value) for key, value in submitted.items() if key != "cells"}
    notebook["cells"] = cells
    return Repaired(notebook, notes, origin, kinds)


def _grade_id(cell: Mapping) -> str:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta.get("grade_id", "") if isinstance(meta, Mapping) else ""


def _kind(cell: Mapping) -> str:
    meta = cell["metadata"]["nbgrader"]
    if meta.get("solution"):
        return "answer"
    if meta.get("grade") and cell.get("cell_type") == "code":
        return "test"
    return "text"


_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


def _unique_cell_ids(cells: list[dict]) -> None:
    """nbformat requires unique cell ids; a split cell repeats its id (JupyterLab), so number the repeats."""
    seen: set[str] = set()
    for number, cell in enumerate(cells, 1):
        cell_id = cell.get("id")
        if cell_id is None:
            continue
        if cell_id in seen or not _CELL_ID.match(str(cell_id)):
            base = re.sub(r"[^a-zA-Z0-9-_]", "", str(cell_id))[:50] or "cell"
            cell_id = f"{base}-{number}"
            while cell_id in seen:
                cell_id += "x"
            cell["id"] = cell_id
        seen.add(cell_id)


def _stripped_copy(cells: list[dict], ref: Mapping, kind: str) -> int | None:
    """The learner's cell that is ``ref`` without its nbgrader metadata: same cell id, or a test cell's released
    source (test cells are read-only, so their source survives an editor that drops ids and metadata)."""
    for index, cell in enumerate(cells):
        if "nbgrader" in cell.get("metadata", {}):
            continue
        if ref.get("id") and cell.get("id") == ref["id"]:
            return index
        if kind == "test" and cell.get("cell_type") == "code" and _source(cell) == _source(ref):
            return index
    return None


def _only_code_between(cells: list[dict], grade_id: str, order: list[str], lab_code: set[str]) -> int | None:
    """An answer cell that lost its id too: the one plain code cell between the graded cells around it in the
    lab (an editor that strips metadata keeps the order), not counting the lab's own plain code cells
    (``lab_code``, their sources); None when there is not exactly one."""
    found = {_grade_id(c): i for i, c in enumerate(cells) if _grade_id(c)}
    at = order.index(grade_id)
    before = [found[g] for g in order[:at] if g in found]
    after = [found[g] for g in order[at + 1:] if g in found]
    start, end = (before[-1] if before else -1), (after[0] if after else len(cells))
    plain = [i for i in range(start + 1, end)
             if cells[i].get("cell_type") == "code" and "nbgrader" not in cells[i].get("metadata", {})
             and _source(cells[i]) not in lab_code]
    return plain[0] if len(plain) == 1 else None


def _insert_after(cells: list[dict], grade_id: str, order: list[str]) -> int:
    """Index to put a deleted test cell after: its exercise's last cell that precedes it in the lab, else the
    nearest earlier graded cell of the lab, else -1 (the top)."""
    earlier = order[:order.index(grade_id)]
    found = {_grade_id(c): i for i, c in enumerate(cells) if _grade_id(c)}
    same = [found[g] for g in earlier if g in found and exercise_of(g) == exercise_of(grade_id)]
    if same:
        return max(same)
    before = [found[g] for g in earlier if g in found]
    return max(before) if before else -1


def _retype(cell: dict, cell_type: str) -> None:
    """Change a cell's type the way nbgrader's OverwriteCells does, also dropping what the new type may not hold."""
    cell["cell_type"] = cell_type
    for key in ("outputs", "execution_count", "attachments"):
        cell.pop(key, None)
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)


def _source(cell: Mapping) -> str:
    source = cell.get("source", "")
    return ("".join(source) if isinstance(source, list) else source).strip()
