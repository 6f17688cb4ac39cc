"""kit.grading on a self-contained fixture lab: build, sync check, learner grade, cohort gradebook.

The fixture (tests/fixtures/grading/solutions/99-fixture) is pure Python: three
exercises worth 1, 2 and 3 points, each with a visible test and a hidden test
that catches one plausible wrong answer. Every test works on a temp copy of the
fixture repo, never on the real labs/. Grading runs real kernels, so the matrix
is graded once per module as a cohort and read by several tests.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from kit.errors import CheckFailed, InvalidInput
from kit.grading import (
    build_labs,
    check,
    check_labs,
    grade_cohort,
    grade_notebook,
    make_submission,
    solution_answers,
)

FIXTURE = Path(__file__).parent / "fixtures" / "grading"
LAB = "99-fixture"
POINTS = {"budget": 1, "burn_rate": 2, "availability": 3}

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


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return fixture_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture
def fresh_repo(tmp_path) -> Path:
    """A repo a test may damage."""
    return fixture_repo(tmp_path / "repo")


@pytest.fixture(scope="module")
def cohort(repo, tmp_path_factory):
    """The grading matrix, graded once: blank, solution, one wrong answer per exercise, broken, missing."""
    subs = tmp_path_factory.mktemp("submitted")
    right = solution_answers(LAB, root=repo)
    make_submission(LAB, {}, subs / "blank" / LAB / f"{LAB}.ipynb", root=repo)
    make_submission(LAB, right, subs / "solution" / LAB / f"{LAB}.ipynb", root=repo)
    for exercise, (grade_id, code) in WRONG.items():
        make_submission(LAB, {**right, grade_id: code}, subs / f"wrong_{exercise}.ipynb", root=repo)
    (subs / "broken.ipynb").write_text('{"cells": [oops')
    (subs / "missing").mkdir()
    lines: list[str] = []
    before = snapshot(repo)
    book = grade_cohort(subs, LAB, subs / "out" / "grades.csv", root=repo, progress=lines.append)
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


def test_check_passes_on_a_fresh_build(repo):
    result = check_labs(root=repo)
    assert result.ok, str(result)
    assert result.labs == [LAB]


def test_check_names_the_hand_edited_cell(fresh_repo):
    edit_cell(released(fresh_repo), "burn_rate-tests", lambda c: c.update(source="assert True"))
    result = check_labs(root=fresh_repo)
    assert not result.ok
    assert any("99-fixture.ipynb" in p and "(burn_rate-tests)" in p for p in result.problems), result.problems


def test_check_catches_a_hidden_test_leaked_into_labs(fresh_repo):
    leak = "\n### BEGIN HIDDEN TESTS\nassert budget_minutes(0.99, 7) == 100.8\n### END HIDDEN TESTS"
    edit_cell(released(fresh_repo), "budget-tests", lambda c: c.update(source="".join(c["source"]) + leak))
    problems = check_labs(root=fresh_repo).problems
    assert any("BEGIN HIDDEN TESTS" in p and "leaked" in p for p in problems), problems
    assert any("(budget-tests)" in p for p in problems), problems


def test_check_reports_missing_and_extra_labs(fresh_repo):
    shutil.rmtree(fresh_repo / "labs" / LAB)
    (fresh_repo / "labs" / "42-stale").mkdir()
    problems = check_labs(root=fresh_repo).problems
    assert any(f"labs/{LAB} is missing" in p for p in problems), problems
    assert any("labs/42-stale has no source" in p for p in problems), problems


def test_check_and_build_refuse_duplicate_grade_ids(fresh_repo):
    source = fresh_repo / "solutions" / LAB / f"{LAB}.ipynb"
    edit_cell(source, "burn_rate-tests", lambda c: c["metadata"]["nbgrader"].update(grade_id="budget-tests"))
    problems = check_labs(root=fresh_repo).problems
    assert any("grade_id 'budget-tests' is used by cells 4 and 7" in p for p in problems), problems
    assert any("Duplicate grade id" in p for p in problems), problems  # nbgrader refuses it too
    before = snapshot(fresh_repo / "labs")
    with pytest.raises(CheckFailed, match="Duplicate grade id"):
        build_labs(root=fresh_repo)
    assert snapshot(fresh_repo / "labs") == before


@pytest.mark.filterwarnings("ignore:Cell is missing an id field")
def test_check_requires_cell_ids_for_a_deterministic_release(fresh_repo):
    edit_cell(fresh_repo / "solutions" / LAB / f"{LAB}.ipynb", "budget-answer", lambda c: c.pop("id"))
    problems = check_labs(root=fresh_repo).problems
    assert any("cell 3 has no id" in p for p in problems), problems


def test_check_requires_a_graded_test_cell(fresh_repo):
    source = fresh_repo / "solutions" / LAB / f"{LAB}.ipynb"
    for grade_id in ("budget-tests", "burn_rate-tests", "availability-tests"):
        edit_cell(source, grade_id, lambda c: c["metadata"]["nbgrader"].update(grade=False, points=0))
    problems = check_labs(root=fresh_repo).problems
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
    assert check_labs(root=fresh_repo).ok
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
    assert sorted(rows) == sorted(["blank", "solution", "wrong_budget", "wrong_burn_rate",
                                   "wrong_availability", "broken", "missing"])
    assert rows["solution"]["total"] == "6" and rows["wrong_burn_rate"]["burn_rate"] == "0"
    assert rows["broken"]["total"] == "0" and "not a Jupyter notebook" in rows["broken"]["note"]
    assert rows["missing"]["total"] == "0" and "does not exist" in rows["missing"]["note"]
    assert all(row["max_total"] == "6" for row in rows.values())
    assert [line.split(":")[0] for line in lines] == list(book.reports)  # one progress line per student


# ---------------------------------------------------------------- a learner grading their own copy


def test_learner_grade_infers_the_lab_and_leaves_the_file_alone(repo, tmp_path):
    grade_id, code = WRONG["budget"]
    mine = make_submission(LAB, {**solution_answers(LAB, root=repo), grade_id: code},
                           tmp_path / LAB / "my copy.ipynb", root=repo)
    before = snapshot(tmp_path)
    report = grade_notebook(mine, root=repo)
    assert snapshot(tmp_path) == before
    assert (report.lab, report.total, report.max_total) == (LAB, 5, 6)
    assert HIDDEN_HINTS["budget"] in report.exercises[0].message


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
