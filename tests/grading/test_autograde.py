"""kit.grading on a self-contained fixture lab: build, sync check, learner grade, cohort gradebook.

The fixture (tests/fixtures/grading/solutions/99-fixture) is pure Python: three
exercises worth 1, 2 and 3 points, each with a visible test and a hidden test
that catches one plausible wrong answer. Every test works on a temp copy of the
fixture repo, never on the real labs/. Grading runs real kernels, so the matrix
and the damaged submissions (split, copied, deleted, moved, retyped cells, a
kernel that dies, cells that never stop) are graded once per module as one
cohort, with a short cell timeout, and read by several tests.
"""

from __future__ import annotations

import copy
import csv
import html
import json
import shutil
from pathlib import Path

import pytest

from kit.errors import CheckFailed, InvalidInput
from kit.grading.autograde import (
    _stuck,
    build_labs,
    check,
    grade_cohort,
    grade_notebook,
    make_submission,
    solution_answers,
    verify_labs,
)

pytestmark = pytest.mark.long  # a cohort of a dozen real nbgrader runs, some waiting out cell timeouts

FIXTURE = Path(__file__).parents[1] / "fixtures" / "grading"
LAB = "99-fixture"
POINTS = {"budget": 1, "burn_rate": 2, "availability": 3}
# Seconds a cell may run: the fixture's cells take milliseconds (well under a second on a loaded machine),
# the looping ones never end.
TIMEOUT = 5

# One plausible wrong answer per exercise: each passes the visible test and fails the hidden one.
WRONG = {
    "budget": ("budget-answer", "def budget_minutes(slo, days):\n    return (1 - slo) * 30 * 24 * 60"),
    "burn_rate": ("burn_rate-answer", "def burn_rate(error_ratio, slo):\n    return error_ratio / (1 - 0.999)"),
    "availability": ("availability-answer", "def availability(good, total):\n    return good / total"),
}
HIDDEN_HINTS = {
    "budget": "the window length matters",
    "burn_rate": "the budget depends on the SLO",
    "availability": "ZeroDivisionError",
}


def fixture_repo(root: Path) -> Path:
    """A repo layout holding only the fixture lab's source, with labs/ built from it."""
    shutil.copytree(FIXTURE / "solutions", root / "solutions")
    build_labs(root=root)
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def released(root: Path) -> Path:
    return root / "labs" / LAB / f"{LAB}.ipynb"


def edit_cell(notebook: Path, grade_id: str, change) -> None:
    data = json.loads(notebook.read_text())
    cell = next(c for c in data["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    change(cell)
    notebook.write_text(json.dumps(data, indent=1))


def edit_cells(notebook: Path, change) -> None:
    """``change(cells, index)`` on the notebook's cell list; ``index(grade_id)`` finds a cell."""
    data = json.loads(notebook.read_text())
    cells = data["cells"]
    change(cells, lambda grade_id: next(i for i, c in enumerate(cells)
                                        if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id))
    notebook.write_text(json.dumps(data, indent=1))


def split_cell(cells, index):
    """JupyterLab's split: two cells with the original's id and metadata."""
    at = index("budget-answer")
    first, second = copy.deepcopy(cells[at]), copy.deepcopy(cells[at])
    first["source"] = "import math"
    cells[at:at + 1] = [first, second]
    del cells[index("burn_rate-tests")]
    cells.insert(index("availability-answer"), cells.pop(index("availability-tests")))


def edit_elsewhere(cells, index):
    pasted = copy.deepcopy(cells[index("budget-tests")]) | {"id": "pasted"}
    cells.insert(index("budget-tests") + 1, pasted)
    stripped = cells[index("burn_rate-tests")]
    stripped["metadata"] = {}
    del stripped["id"]
    retyped = cells[index("availability-answer")]
    retyped.update(cell_type="markdown")
    del retyped["outputs"], retyped["execution_count"]
    # nbgrader's own default skips cells tagged skip-execution, passing a test that never ran.
    cells[index("availability-tests")]["metadata"]["tags"] = ["skip-execution"]


UNSTOPPABLE = (  # a retry loop with a bare except: the interrupt nbgrader sends at the timeout cannot stop it
    "\nimport time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass")
SEGFAULT_ON_HIDDEN = (
    "def burn_rate(error_ratio, slo):\n    if slo == 0.99:\n        import ctypes\n        ctypes.string_at(0)\n"
    "    return error_ratio / (1 - slo)"
)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return fixture_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture
def fresh_repo(tmp_path) -> Path:
    """A repo a test may damage."""
    return fixture_repo(tmp_path / "repo")


@pytest.fixture(scope="module")
def cohort(repo, tmp_path_factory):
    """Graded once: the matrix (blank, solution, one wrong answer per exercise), broken and missing notebooks,
    and notebooks damaged the ways real ones reach a grader."""
    subs = tmp_path_factory.mktemp("submitted")
    right = solution_answers(LAB, root=repo)
    make_submission(LAB, {}, subs / "blank" / LAB / f"{LAB}.ipynb", root=repo)
    make_submission(LAB, right, subs / "solution" / LAB / f"{LAB}.ipynb", root=repo)
    make_submission(LAB, {}, subs / "solution" / LAB / f"{LAB}-Copy1.ipynb", root=repo)
    for exercise, (grade_id, code) in WRONG.items():
        make_submission(LAB, {**right, grade_id: code}, subs / f"wrong_{exercise}.ipynb", root=repo)
    (subs / "broken.ipynb").write_text('{"cells": [oops')
    (subs / "empty.ipynb").write_text("")
    (subs / "missing").mkdir()
    make_submission(LAB, right, subs / "two" / "mine.ipynb", root=repo)
    make_submission(LAB, right, subs / "two" / "final.ipynb", root=repo)
    (subs / "readme.txt").write_text("submissions exported on Monday")
    # burn_rate: a wrong answer that loops, under a deleted test cell: the one put back holds the hidden tests.
    looping = {**right, "burn_rate-answer": WRONG["burn_rate"][1] + "\nwhile True:\n    pass"}
    edit_cells(make_submission(LAB, looping, subs / "nested" / "Downloads" / "lab.ipynb", root=repo), split_cell)
    edited = {**right, "availability-answer": WRONG["availability"][1]}
    edit_cells(make_submission(LAB, edited, subs / "edited.ipynb", root=repo), edit_elsewhere)
    make_submission(LAB, {
        **right,
        "budget-answer": right["budget-answer"] + "\nimport os\nos._exit(1)",
        "availability-answer": right["availability-answer"] + UNSTOPPABLE,
    }, subs / "crashes.ipynb", root=repo)
    lines: list[str] = []
    before = snapshot(repo)
    book = grade_cohort(subs, LAB, subs / "out" / "grades.csv", root=repo, progress=lines.append, timeout=TIMEOUT)
    assert snapshot(repo) == before, "grading wrote into the repo"
    return book, lines


# ---------------------------------------------------------------- build and check


def test_build_releases_notebook_and_data_without_answers_or_junk(repo):
    assert sorted(p.name for p in repo.iterdir()) == ["labs", "solutions"]
    assert sorted(snapshot(repo / "labs")) == [f"{LAB}/{LAB}.ipynb", f"{LAB}/requests.csv"]
    text = released(repo).read_text()
    assert "43.2" in text  # visible test kept
    assert "100.8" not in text and "return error_ratio / (1 - slo)" not in text  # hidden test and solution gone
    assert "raise NotImplementedError()" in text


def test_build_is_byte_for_byte_deterministic(fresh_repo):
    first = snapshot(fresh_repo / "labs")
    assert build_labs(LAB, root=fresh_repo) == [fresh_repo / "labs" / LAB]
    assert snapshot(fresh_repo / "labs") == first


def test_build_unknown_lab_names_it_and_lists_labs(repo):
    with pytest.raises(InvalidInput, match=r"'07-nope'.*99-fixture"):
        build_labs("07-nope", root=repo)


def test_verify_passes_on_a_fresh_build(repo):
    result = verify_labs(root=repo)
    assert result.ok, str(result)
    assert result.labs == [LAB]


def test_verify_names_the_hand_edited_cell(fresh_repo):
    edit_cell(released(fresh_repo), "burn_rate-tests", lambda c: c.update(source="assert True"))
    result = verify_labs(root=fresh_repo)
    assert not result.ok
    assert any("99-fixture.ipynb" in p and "(burn_rate-tests)" in p for p in result.problems), result.problems


def test_verify_catches_a_hidden_test_leaked_into_labs(fresh_repo):
    leak = "\n### BEGIN HIDDEN TESTS\nassert budget_minutes(0.99, 7) == 100.8\n### END HIDDEN TESTS"
    edit_cell(released(fresh_repo), "budget-tests", lambda c: c.update(source="".join(c["source"]) + leak))
    problems = verify_labs(root=fresh_repo).problems
    assert any("BEGIN HIDDEN TESTS" in p and "leaked" in p for p in problems), problems
    assert any("(budget-tests)" in p for p in problems), problems


def test_verify_reports_missing_and_extra_labs(fresh_repo):
    shutil.rmtree(fresh_repo / "labs" / LAB)
    (fresh_repo / "labs" / "42-stale").mkdir()
    problems = verify_labs(root=fresh_repo).problems
    assert any(f"labs/{LAB} is missing" in p for p in problems), problems
    assert any("labs/42-stale has no source" in p for p in problems), problems


def test_verify_and_build_refuse_duplicate_grade_ids(fresh_repo):
    source = fresh_repo / "solutions" / LAB / f"{LAB}.ipynb"
    edit_cell(source, "burn_rate-tests", lambda c: c["metadata"]["nbgrader"].update(grade_id="budget-tests"))
    problems = verify_labs(root=fresh_repo).problems
    assert any("grade_id 'budget-tests' is used by cells 4 and 7" in p for p in problems), problems
    assert any("Duplicate grade id" in p for p in problems), problems  # nbgrader refuses it too
    before = snapshot(fresh_repo / "labs")
    with pytest.raises(CheckFailed, match="Duplicate grade id"):
        build_labs(root=fresh_repo)
    assert snapshot(fresh_repo / "labs") == before


@pytest.mark.filterwarnings("ignore:Cell is missing an id field")
def test_verify_requires_cell_ids_for_a_deterministic_release(fresh_repo):
    edit_cell(fresh_repo / "solutions" / LAB / f"{LAB}.ipynb", "budget-answer", lambda c: c.pop("id"))
    problems = verify_labs(root=fresh_repo).problems
    assert any("cell 3 has no id" in p for p in problems), problems


def test_verify_requires_a_graded_test_cell(fresh_repo):
    source = fresh_repo / "solutions" / LAB / f"{LAB}.ipynb"
    for grade_id in ("budget-tests", "burn_rate-tests", "availability-tests"):
        edit_cell(source, grade_id, lambda c: c["metadata"]["nbgrader"].update(grade=False, points=0))
    problems = verify_labs(root=fresh_repo).problems
    assert any("has no graded test cell" in p for p in problems), problems


def test_written_answers_are_released_blank_and_reported_as_marked_by_hand(fresh_repo, tmp_path):
    source = fresh_repo / "solutions" / LAB / f"{LAB}.ipynb"
    data = json.loads(source.read_text())
    data["cells"].append({"cell_type": "markdown", "id": "policy", "source": "Our model policy: freeze releases.",
                          "metadata": {"nbgrader": {"grade": True, "grade_id": "policy-written", "locked": False,
                                                    "points": 4, "schema_version": 3, "solution": True,
                                                    "task": False}}})
    source.write_text(json.dumps(data, indent=1))
    build_labs(LAB, root=fresh_repo)
    assert verify_labs(root=fresh_repo).ok
    released = (fresh_repo / "labs" / LAB / f"{LAB}.ipynb").read_text()
    assert "model policy" not in released
    report = grade_notebook(make_submission(LAB, {}, tmp_path / f"{LAB}.ipynb", root=fresh_repo), root=fresh_repo)
    assert report.manual_points == 4 and report.max_total == sum(POINTS.values())
    assert "plus 4 for written answers your facilitator marks" in report.summary()


# ---------------------------------------------------------------- the grading matrix


def test_blank_submission_scores_zero_with_a_hint(cohort):
    report = cohort[0].reports["blank"]
    assert (report.total, report.max_total, report.note) == (0, 6, "")
    assert all("not answered yet" in e.message for e in report.exercises)


def test_solution_scores_full_marks(cohort):
    report = cohort[0].reports["solution"]
    assert (report.total, report.max_total) == (6, 6)
    assert report.passed and all(e.passed and not e.message for e in report.exercises)


@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_wrong_answer_loses_exactly_its_exercise(cohort, exercise):
    report = cohort[0].reports[f"wrong_{exercise}"]
    assert report.total == 6 - POINTS[exercise]
    scores = {e.name: e for e in report.exercises}
    assert [name for name, e in scores.items() if not e.passed] == [exercise]
    assert HIDDEN_HINTS[exercise] in scores[exercise].message
    assert HIDDEN_HINTS[exercise] in str(report) and exercise in report._repr_html_()


def test_cohort_csv_has_one_row_per_student_even_broken_ones(cohort):
    book, lines = cohort
    with open(book.csv, newline="") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert list(next(csv.reader(book.csv.open()))) == [
        "student", "budget", "burn_rate", "availability", "total", "max_total", "note"]
    assert sorted(rows) == sorted(["blank", "solution", "wrong_budget", "wrong_burn_rate", "wrong_availability",
                                   "broken", "empty", "missing", "two", "nested", "edited", "crashes"])
    assert rows["solution"]["total"] == "6" and rows["wrong_burn_rate"]["burn_rate"] == "0"
    assert rows["broken"]["total"] == "0" and "not a Jupyter notebook: not valid JSON" in rows["broken"]["note"]
    assert rows["empty"]["total"] == "0" and "is an empty file" in rows["empty"]["note"]
    assert rows["missing"]["total"] == "0" and rows["missing"]["note"] == (
        f"no notebook in missing/ (expected missing/{LAB}/{LAB}.ipynb)")
    assert all(row["max_total"] == "6" for row in rows.values())
    assert [line.split(":")[0] for line in lines] == list(book.reports)  # one progress line per student


# ---------------------------------------------------------------- a learner grading their own copy


def test_learner_check_infers_the_lab_names_the_cell_that_crashed_and_leaves_the_file_alone(repo, tmp_path,
                                                                                            monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    grade_id, code = WRONG["budget"]
    mine = make_submission(LAB, {**solution_answers(LAB, root=repo), grade_id: code,
                                 "burn_rate-answer": SEGFAULT_ON_HIDDEN}, tmp_path / LAB / "my copy.ipynb", root=repo)
    before = snapshot(tmp_path)
    report = check(mine, root=repo, timeout=TIMEOUT)  # what `kit check` prints
    assert snapshot(tmp_path) == before
    assert (report.lab, scores(report), report.note) == (LAB, {"budget": 0, "burn_rate": 0, "availability": 3}, "")
    assert HIDDEN_HINTS["budget"] in report.exercises[0].message
    assert report.exercises[1].message == (
        "test cell burn_rate-tests (exercise burn_rate, cell 7) killed the kernel (it exited, crashed, or ran out of "
        "memory): the grader skipped it and graded the rest")
    assert report.exercises[1].message in str(report) and not report.passed


def test_learner_grade_rejects_a_non_notebook_and_writes_nothing(repo, tmp_path):
    bogus = tmp_path / f"{LAB}.ipynb"
    bogus.write_text("these are my notes, not a notebook")
    with pytest.raises(InvalidInput) as info:
        grade_notebook(bogus, root=repo)
    assert info.value.field == "notebook" and "not a Jupyter notebook" in str(info.value)
    assert snapshot(tmp_path) == {f"{LAB}.ipynb": b"these are my notes, not a notebook"}


def test_learner_grade_unknown_lab(repo, tmp_path):
    notebook = make_submission(LAB, {}, tmp_path / "scratch.ipynb", root=repo)
    with pytest.raises(InvalidInput, match=r"scratch.ipynb.*99-fixture"):
        grade_notebook(notebook, root=repo)
    with pytest.raises(InvalidInput, match=r"'07-nope'.*99-fixture"):
        grade_notebook(notebook, lab="07-nope", root=repo)


def test_make_submission_rejects_unknown_answer_cells(repo, tmp_path):
    with pytest.raises(InvalidInput, match="budget-tests name no answer cell"):
        make_submission(LAB, {"budget-tests": "pass"}, tmp_path / "x.ipynb", root=repo)


def test_check_grades_the_kernels_notebook_and_never_recurses(repo, tmp_path, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(InvalidInput, match="cannot tell which notebook"):
        check(root=repo)
    bogus = tmp_path / f"{LAB}.ipynb"
    bogus.write_text("not json")
    monkeypatch.setenv("JPY_SESSION_NAME", str(bogus))  # what Jupyter Server tells a notebook's kernel
    with pytest.raises(InvalidInput, match="not a Jupyter notebook"):
        check(root=repo)
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # a kit.check() cell run by the autograder
    assert check(root=repo) is None


# ---------------------------------------------------------------- no submission dropped silently


def test_every_notebook_not_graded_is_named(cohort):
    book, _ = cohort
    assert book.reports["solution"].problems == (
        f"not graded: solution/{LAB}/{LAB}-Copy1.ipynb (graded solution/{LAB}/{LAB}.ipynb)",)
    two = book.reports["two"]
    assert two.total == 0 and two.note == (
        f"2 notebooks and none at two/{LAB}/{LAB}.ipynb: two/final.ipynb, two/mine.ipynb; keep the one to grade there")
    assert book.ignored == ("readme.txt (neither a student folder nor a .ipynb)",)
    assert "4 could not be graded; 4 graded with notes (see the note column)" in str(book)
    assert "not graded: readme.txt" in str(book)
    with open(book.csv, newline="") as fh:
        notes = {row["student"]: row["note"] for row in csv.DictReader(fh)}
    assert notes["solution"] == book.reports["solution"].problems[0] and notes["two"] == two.note


def test_a_folder_and_a_notebook_for_one_student_are_refused_naming_both(repo, tmp_path):
    make_submission(LAB, {}, tmp_path / "subs" / "ann" / LAB / f"{LAB}.ipynb", root=repo)
    make_submission(LAB, {}, tmp_path / "subs" / "ann.ipynb", root=repo)
    make_submission(LAB, {}, tmp_path / "subs" / "Bob.ipynb", root=repo)
    make_submission(LAB, {}, tmp_path / "subs" / "bob.ipynb", root=repo)
    with pytest.raises(InvalidInput) as info:
        grade_cohort(tmp_path / "subs", LAB, tmp_path / "grades.csv", root=repo)
    assert "ann and ann.ipynb are two submissions of one student" in str(info.value)
    assert "Bob.ipynb and bob.ipynb are two submissions of one student (names that differ only by case)" in str(
        info.value)
    assert not (tmp_path / "grades.csv").exists()


# ---------------------------------------------------------------- damaged notebooks: honest notes, kept points


def scores(report) -> dict[str, float]:
    return {e.name: e.points for e in report.exercises}


def test_split_deleted_moved_and_endless_cells_are_graded_as_released_and_named(cohort):
    report = cohort[0].reports["nested"]
    assert (scores(report), report.note) == ({"budget": 1, "burn_rate": 0, "availability": 3}, "")
    assert report.problems == (
        "graded nested/Downloads/lab.ipynb, the only notebook in the folder "
        f"(expected nested/{LAB}/{LAB}.ipynb)",
        "answer cell budget-answer (exercise budget) appears 2 times, as cells 3 and 4 (a split or copied cell): "
        "all ran in order, as the learner's code",
        "test cell burn_rate-tests (exercise burn_rate) was deleted: the grader put it back after burn_rate-answer "
        "and ran it",
        "test cell availability-tests (exercise availability, cell 9) was above its answer cell availability-answer: "
        "the grader ran it after the answer",
        f"answer cell burn_rate-answer (exercise burn_rate, cell 7) ran longer than {TIMEOUT} s and was stopped",
    )
    deleted, timed_out = report.problems[2], report.problems[4]
    assert report.exercises[1].message.startswith(
        f"{deleted}; {timed_out}; AssertionError: {HIDDEN_HINTS['burn_rate']}")
    shown = str(report) + html.unescape(report._repr_html_())
    assert all(shown.count(p) == 2 for p in report.problems)  # once in the text, once in the HTML


def test_copied_stripped_retyped_and_skip_tagged_cells_are_graded_as_released(cohort):
    report = cohort[0].reports["edited"]
    assert scores(report) == {"budget": 1, "burn_rate": 2, "availability": 0}
    availability = report.exercises[2]
    assert availability.message == (
        "answer cell availability-answer (exercise availability, cell 10) was changed to a markdown cell: the grader "
        "changed it back to code, as the lab has it; ZeroDivisionError: division by zero")
    assert report.problems[:2] == (
        "test cell budget-tests (exercise budget) appears 2 times, as cells 4 and 5 (a split or copied cell): cell 5 "
        "was graded, the others ran as plain cells",
        "test cell burn_rate-tests (exercise burn_rate, cell 8) had lost its nbgrader metadata (saved by an editor "
        "that drops it?): the grader restored it",
    )
    assert availability.message in str(report) and str(report).count("was changed to a markdown cell") == 1


def test_a_dead_kernel_or_an_endless_cell_costs_only_its_own_exercise(cohort):
    report = cohort[0].reports["crashes"]
    assert (scores(report), report.note) == ({"budget": 0, "burn_rate": 2, "availability": 0}, "")
    budget, burn_rate, availability = report.exercises
    assert budget.message.startswith(
        "answer cell budget-answer (exercise budget, cell 3) killed the kernel (it exited, crashed, or ran out of "
        "memory): the grader skipped it and graded the rest; NameError")
    assert availability.message.startswith(
        f"answer cell availability-answer (exercise availability, cell 9) ran longer than {TIMEOUT} s and did not "
        "stop when interrupted: the grader skipped it and graded the rest; NameError")
    assert burn_rate.passed and burn_rate.message == ""
    assert report.problems == (budget.message.split("; ")[0], availability.message.split("; ")[0])
    assert str(report).count("killed the kernel") == 1 and "note:" not in str(report)


@pytest.mark.parametrize("output, what", [
    ("DeadKernelError: Kernel died", "killed the kernel (it exited, crashed, or ran out of memory)"),
    ("[AutogradeApp | ERROR] Interrupting kernel\nCellTimeoutError: ...\nThe message was: Timeout waiting for IOPub "
     "output.", f"ran longer than {TIMEOUT} s and did not stop when interrupted"),
    ("the autograder was stopped after 99 s", f"ran longer than {TIMEOUT} s and did not stop when interrupted"),
    ("CellTimeoutError: ...\nThe message was: Timeout waiting for IOPub output.",
     "did not finish sending its output (a machine too busy, or output without end)"),
    ("ValidationError: Notebook failed to validate", ""),
])
def test_what_stopped_nbgrader_is_told_from_its_output(output, what):
    assert _stuck(output, TIMEOUT) == what
