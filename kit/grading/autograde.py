"""nbgrader glue: regenerate ``labs/`` from ``solutions/``, prove they agree, grade a learner or a cohort.

nbgrader always works in a throwaway course folder with its own gradebook, so
nothing but ``labs/<lab>/`` (and the CSV a facilitator asks for) is ever written
into the repository, and a learner's notebook is only ever read.

Conventions lab authors follow
------------------------------
* A lab is a folder ``solutions/<lab>/`` holding the nbgrader source notebook
  ``<lab>.ipynb``; other files in the folder are released next to it.
* Every nbgrader cell has a ``grade_id`` of the form ``<exercise>-<part>``:
  the exercise is the text before the first ``-`` (``budget-answer``,
  ``budget-tests``, ``budget-tests-edge`` all belong to exercise ``budget``).
  Exercise names use letters, digits and ``_`` only; they become report rows
  and CSV columns, in notebook order.
* Points live only on autograded test cells (code, ``grade: true``,
  ``solution: false``). An exercise is worth the sum of its test cells and
  scores the sum of the cells that pass. A test cell fails when it raises or
  writes to stderr (nbgrader's rule). Hidden tests go between
  ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` inside a test cell.
* When an exercise loses points, its hint is the first line of the first error
  among its cells in notebook order: an answer cell that raises is the cause,
  otherwise the failing test's assertion message. Write assertion messages a
  learner can act on.
* Cells carry ids (nbformat 4.5, as Jupyter saves them) so labs/ regenerates
  byte for byte.
* The kernel is ``python3``: the interpreter that runs kit, whatever
  kernelspecs the learner has installed.

What reaches the grader
-----------------------
Learners' notebooks arrive damaged by editors: :mod:`kit.grading.submissions` finds them
(refusing two for one student), reads them, and repairs their cells before nbgrader
runs them, noting each repair. A cell that kills the kernel (``os._exit``, a
segfault, the memory limit) or ignores the interrupt after ``timeout`` stops
nbgrader for the whole notebook; the grader then skips that cell, grades the
rest again, and names it. Every note names the cell (grade id, exercise, number
in the learner's notebook) and lands in ``GradeReport.problems``, the CSV's note
column and, when its exercise lost points, that exercise's result.

What the graded notebook runs against
-------------------------------------
Grading replays the whole notebook: its faults, pages, drills and rules. So it never
runs against the sandbox a learner or a mob works in. Every grading run (a `kit check`,
or a cohort's `kit grade`, whose students share one) gets a private sandbox of its own
(:func:`kit.sandbox.throwaway`: free ports, a temp state folder), and the kernel's KIT_*
variables all point at it. A lab that uses the sandbox starts it in a code cell with
``kit.lab_setup(...)``, ``kit.up()`` or ``sandbox.up()``; for such a lab the grader starts the private sandbox
before the notebook runs, tied to its own process so it dies with it even when that is
killed. Afterwards, also on an error or Ctrl-C, the private sandbox is stopped, every
process still naming its folder or the course's (a kernel, a process the notebook
started) is stopped, and both folders are removed. nbgrader runs tied to the grader, and
its kernel to nbgrader.
"""

from __future__ import annotations

import csv
import html
import json
import logging
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

from .. import procs, sandbox
from ..config import CONTENT, REPO_ROOT, Config, ContentPaths
from ..errors import CheckFailed, InvalidInput
from . import submissions, warmgrader

__all__ = [
    "CELL_TIMEOUT",
    "ExerciseScore",
    "GradeReport",
    "Gradebook",
    "build_labs",
    "LabsVerification",
    "check",
    "grade_cohort",
    "grade_notebook",
    "list_labs",
    "make_submission",
    "solution_answers",
    "verify_labs",
]

CELL_TIMEOUT = 60
"""Seconds one cell may run while autograding: labs wait on a live sandbox, but never this long."""

SOLUTIONS = CONTENT.solutions.name
"""The lab sources' folder name, for messages; its path is ``ContentPaths(root).solutions``."""
LABS = CONTENT.labs.name
"""The released labs' folder name, for messages; its path is ``ContentPaths(root).labs``."""
MARKERS = (
    "BEGIN SOLUTION", "END SOLUTION",
    "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
    "BEGIN MARK SCHEME", "END MARK SCHEME",
)
"""nbgrader's region delimiters; none of them may survive into labs/."""

_IGNORE = (".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback")  # nbgrader's CourseDirectory.ignore
_AUTOGRADER = (
    "import sys; sys.modules['rfc3987_syntax'] = None; sys.argv[0] = 'nbgrader'; "
    "from nbgrader.apps.nbgraderapp import main; main()"
)
"""``python -m nbgrader``, minus the one import that dominates its start-up.

nbformat imports jsonschema, which imports the optional ``rfc3987_syntax`` (if installed) to check the
``iri`` string format, and that package compiles a few dozen Earley grammars at import: seconds of CPU
per autograded notebook. No notebook schema uses that format and jsonschema treats the package as
optional (an ImportError just leaves the format unchecked), so the autograder's process goes without it.
"""
_WARM_UP = (
    "import sys; sys.modules['rfc3987_syntax'] = None; from nbgrader.apps.nbgraderapp import main; "
    "import nbgrader.converters.autograde, jupyter_client, nbclient, IPython, ipykernel.kernelspec, "
    "sqlalchemy.dialects.sqlite, psutil"
)
"""What every ``_AUTOGRADER`` process imports before it grades (about a second of CPU), done once per cohort
in a warm process (:mod:`kit.grading.warmgrader`) that forks each student's autograder; imports only, as
forking needs."""
_LEARNER = "learner"
_SCRIPTS = str(Path(sys.executable).parent)  # console scripts of this environment (alembic, jupyter)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class ExerciseScore:
    """Points of one exercise; ``message`` says why points were lost (empty when passed)."""

    name: str
    points: float
    max_points: float
    passed: bool
    message: str = ""


@dataclass(frozen=True)
class GradeReport:
    """One notebook's grade per exercise; ``note`` says why it could not be graded at all."""

    lab: str
    notebook: Path
    exercises: list[ExerciseScore]
    note: str = ""
    manual_points: float = 0.0
    """Points of written answers a facilitator marks by hand in nbgrader's formgrader; not in ``total``."""
    raised: tuple[str, ...] = ()
    """Every code cell that raised while autograding, as ``"<cell>: <error>"`` in notebook order (answer,
    test and plain cells alike), once per cell: empty when the whole notebook ran clean, as a lab's solution must."""
    problems: tuple[str, ...] = ()
    """Everything the grader found wrong with the submission and worked around, each naming the file or the
    cell (grade id, exercise, number in the learner's notebook) and what happened: other notebooks not graded,
    split, copied, deleted, moved or retyped cells, a cell that killed the kernel or would not stop. Empty for
    a notebook as the lab released it."""

    @property
    def total(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_total(self) -> float:
        return sum(e.max_points for e in self.exercises)

    @property
    def passed(self) -> bool:
        """Full marks: what `kit check` turns into exit code 0."""
        return not self.note and all(e.passed for e in self.exercises)

    def summary(self) -> str:
        line = f"{_num(self.total)}/{_num(self.max_total)} points"
        if self.manual_points:
            line += f", plus {_num(self.manual_points)} for written answers your facilitator marks"
        return f"{line} ({self.note})" if self.note else line

    def notes(self) -> list[str]:
        """``note`` and ``problems``: the CSV's note column, one string per note."""
        return [self.note, *self.problems] if self.note else list(self.problems)

    def _unshown(self) -> list[str]:
        """Problems not already part of a failed exercise's result."""
        shown = " ".join(e.message for e in self.exercises if not e.passed)
        return [p for p in self.problems if p not in shown]

    def __str__(self) -> str:
        width = max([len("exercise")] + [len(e.name) for e in self.exercises])
        lines = [f"{self.lab}: {self.summary()}", f"  {'exercise':<{width}}  points  result"]
        for e in self.exercises:
            points = f"{_num(e.points)}/{_num(e.max_points)}"
            lines.append(f"  {e.name:<{width}}  {points:>6}  {'passed' if e.passed else e.message or 'failed'}")
        lines += [f"  note: {p}" for p in self._unshown()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(e.name)}</td><td>{_num(e.points)}/{_num(e.max_points)}</td>"
            f"<td>{'&#10004; passed' if e.passed else html.escape(e.message or 'failed')}</td></tr>"
            for e in self.exercises
        )
        notes = "".join(f"<li>{html.escape(p)}</li>" for p in self._unshown())
        return (
            f"<p><b>{html.escape(self.lab)}</b>: {html.escape(self.summary())}</p>"
            f"<table><thead><tr><th>exercise</th><th>points</th><th>result</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>" + (f"<ul>{notes}</ul>" if notes else "")
        )


@dataclass(frozen=True)
class Gradebook:
    """A cohort's grades for one lab, by student, as written to ``csv``; ``ignored`` names entries of the
    submissions folder that are no student's submission."""

    lab: str
    csv: Path
    reports: dict[str, GradeReport]
    ignored: tuple[str, ...] = ()

    def __str__(self) -> str:
        failed = sum(1 for r in self.reports.values() if r.note)
        noted = sum(1 for r in self.reports.values() if r.problems and not r.note)
        extra = f"; {failed} could not be graded" if failed else ""
        extra += f"; {noted} graded with notes" if noted else ""
        extra += " (see the note column)" if extra else ""
        lines = [f"{self.lab}: graded {len(self.reports)} students into {self.csv}{extra}"]
        lines += [f"not graded: {entry}" for entry in self.ignored]
        return "\n".join(lines)


@dataclass(frozen=True)
class LabsVerification:
    """Whether labs/ is exactly what nbgrader generates from solutions/ and leaks nothing (`kit labs verify`)."""

    labs: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return f"labs/ matches solutions/ ({len(self.labs)} labs)"
        return "\n".join([f"{len(self.problems)} problems with labs/:"] + [f"- {p}" for p in self.problems])


# ---------------------------------------------------------------- labs/ from solutions/


def list_labs(root: Path = REPO_ROOT) -> list[str]:
    """Lab names: folders of solutions/ holding a notebook named like the folder."""
    base = ContentPaths(Path(root)).solutions
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / f"{p.name}.ipynb").is_file())


def build_labs(lab: str | None = None, *, root: Path = REPO_ROOT) -> list[Path]:
    """Regenerate labs/<lab> (or every lab) with nbgrader; nothing in labs/ changes unless all labs generate."""
    root = Path(root)
    names = [_require_lab(lab, root)] if lab else list_labs(root)
    if not names:
        raise InvalidInput("root",
                           f"no labs in {ContentPaths(root).solutions} (each lab is solutions/<lab>/<lab>.ipynb)")
    with _course(root, names) as course:
        releases = [_generate(course, name) for name in names]
        built = []
        for name, release in zip(names, releases):
            dest = ContentPaths(root).labs / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(release, dest)
            built.append(dest)
    return built


def verify_labs(*, root: Path = REPO_ROOT) -> LabsVerification:
    """Regenerate every lab in a temp dir and compare with labs/; lint sources; scan labs/ for leaks.

    Named apart from ``check``, which grades a learner's notebook (`kit check`)."""
    root = Path(root)
    names = list_labs(root)
    problems: list[str] = []
    if not names:
        problems.append(f"no labs in {SOLUTIONS}/ (each lab is {SOLUTIONS}/<lab>/<lab>.ipynb)")
    for folder in _subdirs(ContentPaths(root).solutions):
        if folder.name not in names:
            problems.append(f"{SOLUTIONS}/{folder.name} has no {folder.name}.ipynb, so it is not a lab")
    for name in names:
        for notebook in sorted((ContentPaths(root).solutions / name).glob("*.ipynb")):
            problems += _lint_source(notebook, root)
    with _course(root, names) as course:
        for name in names:
            try:
                release = _generate(course, name)
            except CheckFailed as exc:
                problems.append(str(exc))
                continue
            committed = ContentPaths(root).labs / name
            if not committed.is_dir():
                problems.append(f"{LABS}/{name} is missing; regenerate labs/ from solutions/")
            else:
                problems += _compare(release, committed, root)
    for folder in _subdirs(ContentPaths(root).labs):
        if folder.name not in names:
            problems.append(f"{LABS}/{folder.name} has no source in {SOLUTIONS}/; delete it or add its source")
    problems += _leaks(ContentPaths(root).labs, root)
    return LabsVerification(names, problems)


def _lint_source(notebook: Path, root: Path) -> list[str]:
    where = notebook.relative_to(root).as_posix()
    try:
        data = json.loads(notebook.read_text(encoding="utf-8"))
        cells, needs_ids = data["cells"], data.get("nbformat_minor", 0) >= 5
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"{where} is not a notebook: {exc}"]
    problems, seen, tests = [], {}, 0
    for number, cell in enumerate(cells, 1):
        if needs_ids and "id" not in cell:
            # nbformat would invent a random id, and labs/ would differ on every build.
            problems.append(f"{where}: cell {number} has no id; open and save the notebook in Jupyter to add ids")
        meta = cell.get("metadata", {}).get("nbgrader")
        if not meta:
            continue
        grade_id = meta.get("grade_id", "")
        if grade_id in seen:
            problems.append(f"{where}: grade_id {grade_id!r} is used by cells {seen[grade_id]} and {number}")
        seen.setdefault(grade_id, number)
        if meta.get("grade") and cell.get("cell_type") == "code" and not meta.get("solution"):
            tests += 1
        elif meta.get("task"):
            problems.append(
                f"{where}: cell {number} ({grade_id}) is an nbgrader task; use a written answer cell "
                "(solution and graded) or an autograded test cell instead"
            )
    if not tests:
        problems.append(f"{where} has no graded test cell, so it cannot be autograded")
    return problems


def _compare(generated: Path, committed: Path, root: Path) -> list[str]:
    want, have = _files(generated), _files(committed)
    problems = []
    for rel in sorted(want.keys() | have.keys()):
        where = (committed / rel).relative_to(root).as_posix()
        if rel not in have:
            problems.append(f"{where} is missing; regenerate labs/ from solutions/")
        elif rel not in want:
            problems.append(f"{where} is not generated from solutions/; delete it or add it to the source")
        elif rel.endswith(".ipynb"):
            difference = _notebook_difference(want[rel], have[rel])
            if difference:
                problems.append(f"{where} differs from what solutions/ generates: {difference}")
        elif want[rel].read_bytes() != have[rel].read_bytes():
            problems.append(f"{where} differs from its source in solutions/")
    return problems


def _notebook_difference(generated: Path, committed: Path) -> str:
    want = json.loads(generated.read_text(encoding="utf-8"))
    try:
        have = json.loads(committed.read_text(encoding="utf-8"))
    except ValueError as exc:
        return f"not valid JSON ({exc})"
    if want == have:
        return ""
    if not isinstance(have, dict) or not isinstance(have.get("cells"), list):
        return "not a notebook"
    want_cells, have_cells = want["cells"], have["cells"]
    parts = []
    if len(want_cells) != len(have_cells):
        parts.append(f"{len(have_cells)} cells instead of {len(want_cells)}")
    changed = [n for n, (a, b) in enumerate(zip(want_cells, have_cells), 1) if a != b]
    if changed:
        shown = ", ".join(f"{n} ({_cell_label(want_cells[n - 1])})" for n in changed[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        parts.append(f"cell {shown}{more} changed")
    return "; ".join(parts) or "notebook metadata changed"


def _leaks(labs: Path, root: Path) -> list[str]:
    problems = []
    for path in sorted(p for p in labs.rglob("*") if p.is_file()) if labs.is_dir() else []:
        text = path.read_bytes().decode("utf-8", errors="replace")
        found = [m for m in MARKERS if m in text]
        if found:
            problems.append(
                f"{path.relative_to(root).as_posix()} contains {', '.join(found)}: "
                "solutions or hidden tests leaked into the release"
            )
    return problems


# ---------------------------------------------------------------- grading


def grade_notebook(
    notebook: Path | str,
    *,
    lab: str | None = None,
    root: Path = REPO_ROOT,
    timeout: int = CELL_TIMEOUT,
    progress: Callable[[str], None] | None = None,
) -> GradeReport:
    """Autograde a learner's copy of a lab, hidden tests included, in a private sandbox; the file is only read.

    The lab is the notebook's folder name or the start of its file name unless given.
    ``timeout`` is the seconds one cell may run; ``progress`` gets a line for each step (the private
    sandbox started, the notebook run, the sandbox stopped). The learner's own sandbox, its drills,
    pages and results are never touched (see "What the graded notebook runs against"). Raises
    InvalidInput (field "notebook") when the file is not a notebook; damage to its cells is graded
    around and named in ``problems``.
    """
    notebook, root = Path(notebook), Path(root)
    submissions.load(notebook)
    lab = _require_lab(lab, root) if lab else _infer_lab(notebook, root)
    learner = submissions.Submission(_LEARNER, notebook, notebook)
    say = progress or _silent
    running = (f"running {notebook.name} as saved {_ago(notebook.stat().st_mtime)} ago (save it first to check what "
               f"is on screen), with the lab's hidden tests (at most {timeout} s a cell)")
    return _autograde(root, lab, [learner], timeout, say, job="the check", running=running)[_LEARNER]


def _ago(when: float) -> str:
    seconds = max(0, round(time.time() - when))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min" if seconds < 7200 else f"{seconds // 3600} h"


def check(
    notebook: Path | str | None = None,
    *,
    lab: str | None = None,
    root: Path = REPO_ROOT,
    timeout: int = CELL_TIMEOUT,
    progress: Callable[[str], None] | None = print,
) -> GradeReport | None:
    """`kit check`: grade a notebook; inside Jupyter, the saved notebook this kernel runs.

    Like ``grade_notebook``, in a private sandbox, saying what it does on ``progress`` (printed
    unless told otherwise). Returns None while nbgrader itself executes the notebook, so a lab
    may end with a ``kit.check()`` cell without grading recursing.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
        return None
    if notebook is None:
        notebook = os.environ.get("JPY_SESSION_NAME", "")
        if not notebook.endswith(".ipynb"):
            raise InvalidInput("notebook", "cannot tell which notebook this is; pass it: kit.check('<lab>.ipynb')")
    return grade_notebook(notebook, lab=lab, root=root, timeout=timeout, progress=progress)


def grade_cohort(
    submitted: Path | str,
    lab: str,
    out_csv: Path | str,
    *,
    root: Path = REPO_ROOT,
    timeout: int = CELL_TIMEOUT,
    progress: Callable[[str], None] | None = None,
    reuse: Config | None = None,
) -> Gradebook:
    """Autograde ``submitted/<student>/<lab>/<lab>.ipynb`` (or ``submitted/<student>.ipynb``) into a CSV.

    A student folder without that notebook is graded from the only notebook in it; missing,
    ambiguous or broken notebooks score 0 with a note; ``progress`` gets one line per student
    and one for each start and stop of the private sandbox, which the whole cohort shares, one
    student after another. ``reuse`` runs the cohort in that already running sandbox instead:
    only for one nobody works in and nothing else uses meanwhile (a test session's own), since
    the notebooks inject faults, run drills and add rules there.
    Raises InvalidInput (field "submissions") naming both entries when two claim one student
    (``alice/`` and ``alice.ipynb``, or names differing only by case): nothing is graded then.
    """
    submitted, out_csv, root = Path(submitted), Path(out_csv), Path(root)
    lab = _require_lab(lab, root)
    if not submitted.is_dir():
        raise InvalidInput("submissions", f"{submitted} is not a folder")
    partial = out_csv.with_name(out_csv.name + ".partial")
    found, ignored = submissions.find(submitted, lab, other_labs=set(list_labs(root)) - {lab},
                                      skip=[out_csv, partial])
    if not found:
        raise InvalidInput("submissions", f"{submitted} holds no student folders or .ipynb files")
    reports = _autograde(root, lab, found, timeout, progress or _silent, job="grading", each=True, reuse=reuse)
    exercises = [e.name for e in next(iter(reports.values())).exercises]
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with open(partial, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", *exercises, "total", "max_total", "note"])
        for student, report in reports.items():
            points = [_num(e.points) for e in report.exercises]
            writer.writerow([student, *points, _num(report.total), _num(report.max_total), "; ".join(report.notes())])
    partial.replace(out_csv)
    return Gradebook(lab, out_csv, reports, tuple(ignored))


def _silent(_: str) -> None:
    pass


def _autograde(
    root: Path,
    lab: str,
    found: list[submissions.Submission],
    timeout: int,
    say: Callable[[str], None],
    *,
    job: str,
    each: bool = False,
    running: str = "",
    reuse: Config | None = None,
) -> dict[str, GradeReport]:
    """Steps: copy the source into a temp course, generate (fills its gradebook), bring up the private sandbox
    (or point at ``reuse``), then per student: read → repair → submit → ``nbgrader autograde`` in a child
    process (again without a cell that killed the kernel) → scores from the gradebook, hints from outputs.
    ``say`` gets ``running`` before the first notebook runs and, when ``each``, a line per student."""
    source = json.loads((ContentPaths(root).solutions / lab / f"{lab}.ipynb").read_text(encoding="utf-8"))
    reports = {}
    with _course(root, [lab]) as course:
        released = json.loads(_generate(course, lab, gradebook=True).joinpath(f"{lab}.ipynb").read_text("utf-8"))
        with _sandbox_for(source, job, say, reuse) as config, warmgrader.WarmGrader(
                _WARM_UP, env=(env := _grading_env(course, config)), cwd=course,
                log=course / "autograder-logs" / "warm") as warm:
            grader = _Grader(course, lab, released, _exercises(source), _manual_points(source),
                             len(source["cells"]), env, timeout, f"kit-skip-{secrets.token_hex(4)}", warm)
            if running:
                say(running)
            # Students get opaque ids inside the course so no name can upset nbgrader's globs and paths.
            for number, submission in enumerate(found):
                if submission.path is None:
                    report = grader.zero(submission.entry, submission.problem, submission.notes)
                else:
                    try:
                        notebook = submissions.load(submission.path)
                    except InvalidInput as exc:
                        report = grader.zero(submission.path, exc.problem, submission.notes)
                    else:
                        report = grader.grade(f"s{number:04d}", submission, notebook)
                reports[submission.student] = report
                if each:
                    say(f"{submission.student}: {report.summary()}")
    return reports


_STARTS_SANDBOX = re.compile(r"\b(?:kit|sandbox)\.up\(|\blab_setup\(")
"""How a lab's setup cell starts the sandbox (see "What the graded notebook runs against")."""


def _uses_sandbox(source: dict) -> bool:
    return any(cell.get("cell_type") == "code" and _STARTS_SANDBOX.search(_text(cell.get("source", "")))
               for cell in source["cells"])


@contextmanager
def _sandbox_for(source: dict, job: str, say: Callable[[str], None], reuse: Config | None) -> Iterator[Config]:
    """The sandbox the graded notebooks run against: ``reuse``, else a private one, started first when the lab
    starts one (tethered, so it dies with this process even if that is killed), stopped and removed afterwards."""
    if reuse is not None:
        yield reuse
        return
    with sandbox.throwaway(progress=say) as config:
        if _uses_sandbox(source):
            ports = ", ".join(f"{name} {getattr(config, setting)}" for name, setting in sandbox.HOST_PORTS.items())
            say(f"starting a private sandbox for {job} on ports {ports}; "
                "the sandbox you work in, its drills, pages and results are left alone")
            began = time.monotonic()
            sandbox.up(config=config, tether=True)
            say(f"private sandbox up in {time.monotonic() - began:.0f} s")
        yield config


_MAX_SKIPPED = 5
"""Cells that kill the kernel (or ignore interrupts) one submission may have before the grader gives up on it."""


@dataclass(frozen=True)
class _Grader:
    """A generated temp course for one lab; grades one submission at a time."""

    course: Path
    lab: str
    released: dict
    exercises: dict[str, list[tuple[str, float]]]
    manual_points: float
    source_cells: int
    env: dict[str, str]
    timeout: int
    skip_tag: str
    """Tag of cells nbclient skips: drawn per run, so no learner's ``skip-execution`` tag can skip a test."""
    warm: warmgrader.WarmGrader
    """Forks each ``nbgrader autograde`` with nbgrader already imported."""

    def zero(self, notebook: Path, note: str, problems: tuple[str, ...] = ()) -> GradeReport:
        return GradeReport(self.lab, notebook, [_score(n, cells, {}, {}, []) for n, cells in self.exercises.items()],
                           note, self.manual_points, problems=problems)

    def grade(self, student_id: str, submission: submissions.Submission, notebook: dict) -> GradeReport:
        """Repair, then autograde; a cell that kills the kernel or will not stop is skipped and the rest regraded."""
        assert submission.path is not None
        repaired = submissions.repair(notebook, self.released)
        skipped: dict[int, str] = {}
        while True:
            attempt = f"{student_id}r{len(skipped)}" if skipped else student_id
            prepared, notes = repaired.skipping(skipped, self.skip_tag)
            executed, output, last_cell = self._autograde(attempt, prepared)
            if executed is not None:
                break
            stuck = _stuck(output, self.timeout)
            if stuck and last_cell is not None and last_cell not in skipped and len(skipped) < _MAX_SKIPPED:
                skipped[last_cell] = stuck
                continue
            if stuck and last_cell is not None:
                _, where = repaired.describe(last_cell)
                note = f"autograde failed: {where} {stuck}" + (
                    f" after {len(skipped)} other cells were skipped" if skipped else "")
            else:
                note = f"autograde failed: {_first_error(output)}"
            return self.zero(submission.path, note, submission.notes + tuple(n.text for n in notes))
        notes += _timeouts(executed, repaired, self.timeout)
        scores = _gradebook_scores(self.course, self.lab, attempt)
        hints = _hints(executed)
        exercises = [_score(n, c, scores, hints, notes) for n, c in self.exercises.items()]
        return GradeReport(self.lab, submission.path, exercises, manual_points=self.manual_points,
                           raised=_raised(executed, self.timeout),
                           problems=submission.notes + tuple(n.text for n in notes))

    def _autograde(self, student_id: str, notebook: dict) -> tuple[dict | None, str, int | None]:
        """nbgrader autograde of one notebook: (the executed notebook or None, nbgrader's output, index of the
        last cell the kernel started)."""
        submitted = self.course / "submitted" / student_id / self.lab / f"{self.lab}.ipynb"
        submitted.parent.mkdir(parents=True)
        submitted.write_text(json.dumps(notebook, indent=1, ensure_ascii=False), encoding="utf-8")
        trace = self.course / "trace" / student_id
        trace.parent.mkdir(exist_ok=True)
        argv = [
            sys.executable, "-c", _AUTOGRADER, "autograde", self.lab,
            f"--CourseDirectory.root={self.course}",
            f"--CourseDirectory.student_id={student_id}",
            f"--Execute.timeout={self.timeout}",
            "--Execute.kernel_name=python3",
            f"--Execute.skip_cells_with_tag={self.skip_tag}",
            # The outputs are in by then; a graceful shutdown waits seconds for a kernel stuck in a cell.
            "--Execute.shutdown_kernel=immediate",
        ]
        # nbgrader stops each cell after `timeout`; the cap only guards against a wedged autograder.
        cap = 60 + self.timeout * (len(notebook["cells"]) + self.source_cells)
        # Tethered: nbgrader dies with this process (through the warm process), and its kernel with nbgrader
        # (ipykernel watches its parent).
        log = self.course / "autograder-logs" / student_id
        try:
            with self.warm.start(argv, log=log, cwd=self.course, env={**self.env, _TRACE: str(trace)}) as autograder:
                finished = autograder.wait(cap) is not None
            output = log.read_text(encoding="utf-8", errors="replace") if finished \
                else f"the autograder was stopped after {cap} s"
        finally:
            procs.stop_naming(self.course)  # a kernel whose nbgrader was stopped before it could shut it down
        lines = trace.read_text(encoding="utf-8").split() if trace.is_file() else []
        last_cell = int(lines[-1]) if lines else None
        graded = self.course / "autograded" / student_id / self.lab / f"{self.lab}.ipynb"
        if not graded.is_file():
            return None, output, last_cell
        return json.loads(graded.read_text(encoding="utf-8")), output, last_cell


_TRACE = "KIT_GRADING_TRACE"
_TRACE_CONFIG = f"""\
# Written by kit.grading: nbclient calls this before each code cell, so when the kernel dies
# or a cell ignores interrupts the grader knows which cell it was.
import os


def _started(cell, cell_index, **_):
    with open(os.environ["{_TRACE}"], "a", encoding="utf-8") as trace:
        trace.write(f"{{cell_index}}\\n")


get_config().Execute.on_cell_execute = _started  # noqa: F821 - provided by nbgrader
"""


def _stuck(output: str, timeout: int) -> str:
    """What the kernel did when nbgrader failed because of one cell ("" when the failure is something else)."""
    if "DeadKernelError" in output or "Kernel died" in output:
        return "killed the kernel (it exited, crashed, or ran out of memory)"
    if "Interrupting kernel" in output or "the autograder was stopped after" in output:
        return f"ran longer than {timeout} s and did not stop when interrupted"
    if "Timeout waiting for IOPub output" in output:  # a cell that finished, but whose output never did
        return "did not finish sending its output (a machine too busy, or output without end)"
    return ""


def _timeouts(executed: dict, repaired: submissions.Repaired, timeout: int) -> list[submissions.CellNote]:
    notes = []
    for index, cell in enumerate(executed["cells"]):
        if any(o.get("output_type") == "error" and o.get("ename") in _TIMEOUTS for o in cell.get("outputs", [])):
            exercise, where = repaired.describe(index)
            notes.append(submissions.CellNote(exercise, f"{where} ran longer than {timeout} s and was stopped"))
    return notes


_TIMEOUTS = ("KeyboardInterrupt", "CellTimeoutError")


def _exercises(notebook: dict) -> dict[str, list[tuple[str, float]]]:
    """Exercise name → its graded test cells (grade_id, points), in notebook order."""
    exercises: dict[str, list[tuple[str, float]]] = {}
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.get("cell_type") == "code":
            exercise = submissions.exercise_of(meta["grade_id"])
            exercises.setdefault(exercise, []).append((meta["grade_id"], float(meta["points"])))
    return exercises


def _manual_points(notebook: dict) -> float:
    """Points of answer cells that carry their own points: written answers marked by a person."""
    return sum(float(cell["metadata"]["nbgrader"].get("points", 0)) for cell in notebook["cells"]
               if cell.get("metadata", {}).get("nbgrader", {}).get("grade")
               and cell["metadata"]["nbgrader"].get("solution"))


def _score(
    name: str,
    cells: list[tuple[str, float]],
    scores: Mapping[str, float],
    hints: Mapping[str, str],
    notes: list[submissions.CellNote],
) -> ExerciseScore:
    """An exercise's points; when it lost some, the message gives the notes on its cells, then its first error."""
    points = sum(scores.get(grade_id, 0.0) for grade_id, _ in cells)
    max_points = sum(p for _, p in cells)
    passed = bool(scores) and points >= max_points
    if passed:
        return ExerciseScore(name, points, max_points, True)
    reasons = [n.text for n in notes if n.exercise == name] + ([hints[name]] if name in hints else [])
    return ExerciseScore(name, points, max_points, False, "; ".join(reasons))


def _gradebook_scores(course: Path, lab: str, student_id: str) -> dict[str, float]:
    from nbgrader.api import Gradebook as NbGradebook

    with NbGradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        graded = gb.find_submission_notebook(lab, lab, student_id)
        return {g.name: float(g.score or 0.0) for g in graded.grades}


def _hints(graded: dict) -> dict[str, str]:
    """Exercise → first line of the first error among its cells (stderr counts only in test cells).

    A timeout is not a hint: the grader's note on the cell that ran too long says it.
    """
    hints: dict[str, str] = {}
    for cell in graded["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if "grade_id" not in meta or cell.get("cell_type") != "code":
            continue
        name = submissions.exercise_of(meta["grade_id"])
        for output in cell.get("outputs", []):
            if name in hints:
                break
            if output.get("output_type") == "error" and output.get("ename") not in _TIMEOUTS:
                hints[name] = _error_hint(output["ename"], (output.get("evalue") or "").strip(), 0)
            elif output.get("name") == "stderr" and meta.get("grade") and not meta.get("solution"):
                lines = [line for line in _text(output.get("text", "")).splitlines() if line.strip()]
                hints[name] = lines[0] if lines else "the test wrote to stderr"
    return hints


def _raised(graded: dict, timeout: int) -> tuple[str, ...]:
    """``"<cell>: <error>"`` for every code cell of an executed notebook with an error output (its first one:
    nbgrader adds the kernel's reply to a timed-out cell as a second error)."""
    raised = []
    for cell in graded["cells"]:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if cell.get("cell_type") == "code" and errors:
            hint = _error_hint(errors[0]["ename"], (errors[0].get("evalue") or "").strip(), timeout)
            raised.append(f"{_cell_label(cell)}: {hint}")
    return tuple(raised)


def _error_hint(ename: str, evalue: str, timeout: int) -> str:
    if ename == "NotImplementedError" and not evalue:
        return "not answered yet: the answer still raises NotImplementedError"
    if ename in ("KeyboardInterrupt", "CellTimeoutError"):
        return f"a cell ran longer than {timeout} s and was stopped"
    return f"{ename}: {evalue.splitlines()[0]}" if evalue else ename


_EXCEPTION_LINE = re.compile(r"^(?:\w+\.)*(\w+(?:Error|Exception|Exit|Interrupt)):\s*(.*)$")


def _first_error(output: str) -> str:
    """The most telling line of nbgrader's output: the first exception raised, else its first error message."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        match = _EXCEPTION_LINE.match(line)
        if match:
            return f"{match[1]}: {match[2]}" if match[2] else match[1]
    errors = [line.split("]", 1)[-1].strip() for line in lines if "| ERROR]" in line]
    return (errors or lines or ["no output from nbgrader"])[0]


# ---------------------------------------------------------------- test helpers


def make_submission(lab: str, answers: Mapping[str, str], dest: Path | str, *, root: Path = REPO_ROOT) -> Path:
    """Write the released notebook of ``lab`` to ``dest`` with answer cells replaced, keyed by grade_id or cell id.

    Tests use it to build blank (no answers), right and plausible wrong submissions.
    """
    root, dest = Path(root), Path(dest)
    released = ContentPaths(root).labs / _require_lab(lab, root) / f"{lab}.ipynb"
    notebook = json.loads(released.read_text(encoding="utf-8"))
    targets = {}
    for cell in notebook["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            targets[cell["metadata"]["nbgrader"]["grade_id"]] = cell
            if "id" in cell:
                targets[cell["id"]] = cell
    unknown = sorted(set(answers) - set(targets))
    if unknown:
        raise InvalidInput(
            "answers", f"{', '.join(unknown)} name no answer cell of {lab}; answer cells: {', '.join(sorted(targets))}"
        )
    for key, code in answers.items():
        targets[key]["source"] = code
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return dest


def solution_answers(lab: str, *, root: Path = REPO_ROOT) -> dict[str, str]:
    """grade_id → the reference code of each answer cell, solution markers removed."""
    root = Path(root)
    source_file = ContentPaths(root).solutions / _require_lab(lab, root) / f"{lab}.ipynb"
    source = json.loads(source_file.read_text(encoding="utf-8"))
    answers = {}
    for cell in source["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            lines = _text(cell["source"]).splitlines()
            answers[meta["grade_id"]] = "\n".join(line for line in lines if not any(m in line for m in MARKERS[:2]))
    return answers


# ---------------------------------------------------------------- nbgrader plumbing


@contextmanager
def _course(root: Path, labs: list[str]) -> Iterator[Path]:
    """A throwaway nbgrader course (its default layout and gradebook) holding copies of the labs' sources."""
    with tempfile.TemporaryDirectory(prefix="kit-grading-") as tmp:
        course = Path(tmp)
        for lab in labs:
            shutil.copytree(ContentPaths(root).solutions / lab, course / "source" / lab,
                            ignore=shutil.ignore_patterns(*_IGNORE))
        yield course


def _generate(course: Path, lab: str, *, gradebook: bool = False) -> Path:
    """``nbgrader generate_assignment`` in-process (no code runs): source/<lab> → release/<lab>.

    Only grading needs the course gradebook (it keeps the hidden tests); creating
    one costs nbgrader a couple of seconds, so building and checking skip it.
    """
    from nbgrader.converters import GenerateAssignment, NbGraderException
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    config = Config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.assignment_id = lab
    config.GenerateAssignment.no_database = not gradebook
    config.SaveCells.enabled = gradebook
    log, errors = _capturing_logger()
    try:
        with _alembic_head_once():
            GenerateAssignment(coursedir=CourseDirectory(config=config, log=log), config=config, log=log).start()
    except NbGraderException:
        cause = _first_error("\n".join(errors))
        raise CheckFailed(f"nbgrader could not generate lab {lab}: {cause}") from None
    return course / "release" / lab


_ALEMBIC_HEAD: list[str] = []


@contextmanager
def _alembic_head_once() -> Iterator[None]:
    """A new gradebook records nbgrader's alembic head, which nbgrader asks a fresh `alembic heads` process
    for every time (about 3 s of CPU each: a Python that imports alembic and SQLAlchemy again). The installed
    nbgrader's head cannot change, so read it once per process, here, from the same migration scripts."""
    import nbgrader.api
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import _temp_alembic_ini

    original = nbgrader.api.get_alembic_version

    def cached() -> str:
        if not _ALEMBIC_HEAD:
            with _temp_alembic_ini("sqlite://") as ini:  # the ini nbgrader's `alembic heads` reads
                _ALEMBIC_HEAD.append(ScriptDirectory.from_config(AlembicConfig(ini)).get_current_head())
        return _ALEMBIC_HEAD[0]

    nbgrader.api.get_alembic_version = cached
    try:
        yield
    finally:
        nbgrader.api.get_alembic_version = original


def _capturing_logger() -> tuple[logging.Logger, list[str]]:
    """A private logger keeping nbgrader's error messages, so they end up in our error instead of on stderr."""
    collected = _Collect()
    log = logging.Logger("kit.grading.nbgrader", logging.ERROR)
    log.addHandler(collected)
    return log, collected.messages


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _grading_env(course: Path, config: Config) -> dict[str, str]:
    """Environment of the autograder: kernel python3 is this interpreter; no user Jupyter/IPython config applies;
    every KIT_* setting is ``config``'s, so the notebook's ``kit.up()`` and everything after it use that sandbox.
    Kernels write their connection files into the course, so every kernel's command line names the course folder.

    Also writes the course's ``nbgrader_config.py`` (nbgrader reads it from its working directory),
    which records the index of each cell the kernel starts in the file named by ``$KIT_GRADING_TRACE``.
    """
    (course / "nbgrader_config.py").write_text(_TRACE_CONFIG, encoding="utf-8")
    spec = course / "jupyter" / "kernels" / "python3" / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (kit)",
        "language": "python",
    }))
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(course / "jupyter"), env.get("JUPYTER_PATH")]))
    env["JUPYTER_CONFIG_DIR"] = str(course / "jupyter-config")
    env["IPYTHONDIR"] = str(course / "ipython")
    env["JUPYTER_RUNTIME_DIR"] = str(course / "runtime")
    env.update(config.environment())
    env["PATH"] = os.pathsep.join(filter(None, [_SCRIPTS, env.get("PATH")]))
    # The kernel imports the same kit as the grader, installed or not.
    kit_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [kit_parent, env.get("PYTHONPATH")]))
    return env


# ---------------------------------------------------------------- small helpers


def _require_lab(lab: str, root: Path) -> str:
    labs = list_labs(root)
    if lab not in labs:
        raise InvalidInput("lab", f"{lab!r} is not a lab in {ContentPaths(root).solutions}; "
                                  f"labs: {', '.join(labs) or 'none'}")
    return lab


def _infer_lab(notebook: Path, root: Path) -> str:
    labs = list_labs(root)
    if notebook.resolve().parent.name in labs:
        return notebook.resolve().parent.name
    prefixed = [lab for lab in labs if notebook.stem.startswith(lab)]
    if prefixed:
        return max(prefixed, key=len)
    raise InvalidInput(
        "lab", f"cannot tell which lab {notebook.name} belongs to; pass lab= one of: {', '.join(labs) or 'none'}"
    )


def _subdirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _files(folder: Path) -> dict[str, Path]:
    ignored = shutil.ignore_patterns(*_IGNORE)
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        skip = ignored(dirpath, dirnames + filenames)
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            if name not in skip:
                path = Path(dirpath) / name
                found[path.relative_to(folder).as_posix()] = path
    return found


def _cell_label(cell: dict) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id") or cell.get("cell_type", "?")


def _text(source: str | list[str]) -> str:
    return "".join(source) if isinstance(source, list) else source


def _num(value: float) -> str:
    return f"{value:g}"
