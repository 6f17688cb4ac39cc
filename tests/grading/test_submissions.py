"""kit.grading.submissions: finding, reading and repairing learners' notebooks, on small purpose-built notebooks.

Pure tests, no kernel: tests/grading/test_autograde.py grades the same kinds of damage with real nbgrader.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from kit.errors import InvalidInput
from kit.grading import list_labs, submissions
from kit.grading.submissions import find, load, repair

LAB = "07-lab"
REPO = Path(__file__).resolve().parents[2]


def _cell(cell_type: str, cell_id: str, source: str, nbgrader: dict | None = None) -> dict:
    cell = {"cell_type": cell_type, "id": cell_id, "metadata": {}, "source": source}
    if nbgrader is not None:
        cell["metadata"]["nbgrader"] = {"grade_id": cell_id, "schema_version": 3, "task": False, **nbgrader}
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def released() -> dict:
    """A released lab: instructions, then exercises ``a`` and ``b``, each an answer and a test cell."""
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        _cell("markdown", "intro", "# Lab", {"grade": False, "locked": True, "solution": False}),
        _cell("code", "a-answer", "def a():\n    raise NotImplementedError()",
              {"grade": False, "locked": False, "solution": True}),
        _cell("code", "a-tests", "assert a() == 1", {"grade": True, "locked": True, "points": 1, "solution": False}),
        _cell("code", "scratch", "print('a plain cell')"),
        _cell("code", "b-answer", "def b():\n    raise NotImplementedError()",
              {"grade": False, "locked": False, "solution": True}),
        _cell("code", "b-tests", "assert b() == 2", {"grade": True, "locked": True, "points": 2, "solution": False}),
    ]}


def grade_ids(notebook: dict) -> list[str]:
    """Each cell's grade id, "plain" for a cell nbgrader does not know."""
    return [c["metadata"].get("nbgrader", {}).get("grade_id", "plain") for c in notebook["cells"]]


def texts(result: submissions.Repaired) -> list[str]:
    return [n.text for n in result.notes]


def test_an_undamaged_notebook_passes_through_unchanged():
    lab = released()
    result = repair(lab, released())
    assert result.notebook == lab and result.notes == [] and result.origin == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("lab", list_labs(REPO))
def test_every_released_lab_passes_through_unchanged(lab):
    notebook = load(REPO / "labs" / lab / f"{lab}.ipynb")
    result = repair(notebook, json.loads((REPO / "labs" / lab / f"{lab}.ipynb").read_text()))
    assert result.notes == [] and result.notebook["cells"] == json.loads(json.dumps(notebook))["cells"]


def test_a_split_answer_keeps_both_halves_running_and_says_so():
    """JupyterLab's split repeats the cell id and all metadata; nbgrader 0.9 then fails the whole notebook."""
    mine = released()
    first, second = copy.deepcopy(mine["cells"][4]), copy.deepcopy(mine["cells"][4])
    first["source"], second["source"] = "import math", "def b():\n    return 2"
    mine["cells"][4:5] = [first, second]
    result = repair(mine, released())
    cells = result.notebook["cells"]
    assert [c["source"] for c in cells[4:6]] == ["import math", "def b():\n    return 2"]
    assert "nbgrader" not in cells[4]["metadata"] and cells[5]["metadata"]["nbgrader"]["grade_id"] == "b-answer"
    assert len({c["id"] for c in cells}) == len(cells)  # nbformat requires unique ids
    assert texts(result) == ["answer cell b-answer (exercise b) appears 2 times, as cells 5 and 6 (a split or "
                             "copied cell): all ran in order, as the learner's code"]
    assert result.notes[0].exercise == "b"


def test_a_copied_test_cell_is_graded_once():
    mine = released()
    pasted = copy.deepcopy(mine["cells"][2]) | {"id": "pasted"}
    mine["cells"].insert(3, pasted)
    result = repair(mine, released())
    assert grade_ids(result.notebook).count("a-tests") == 1
    assert texts(result) == ["test cell a-tests (exercise a) appears 2 times, as cells 3 and 4 (a split or copied "
                             "cell): cell 4 was graded, the others ran as plain cells"]


def test_a_copied_written_answer_names_the_one_a_facilitator_marks():
    lab = released()
    lab["cells"].append(_cell("markdown", "c-written", "Why?", {"grade": True, "locked": False, "points": 3,
                                                                 "solution": True}))
    mine = copy.deepcopy(lab)
    mine["cells"].append(copy.deepcopy(mine["cells"][-1]) | {"id": "again", "source": "Because."})
    assert texts(repair(mine, lab)) == ["answer cell c-written (exercise c) appears 2 times, as cells 7 and 8 (a "
                                        "split or copied cell): cell 8 is the written answer a facilitator marks"]


def test_a_deleted_test_cell_is_put_back_after_its_answer():
    mine = released()
    del mine["cells"][5]
    result = repair(mine, released())
    assert grade_ids(result.notebook) == ["intro", "a-answer", "a-tests", "plain", "b-answer", "b-tests"]
    assert result.origin == [1, 2, 3, 4, 5, None]
    assert texts(result) == ["test cell b-tests (exercise b) was deleted: the grader put it back after b-answer "
                             "and ran it"]
    assert result.describe(5) == ("b", "test cell b-tests (exercise b, put back by the grader)")


def test_a_deleted_answer_cell_is_named_not_invented():
    mine = released()
    del mine["cells"][1]
    result = repair(mine, released())
    assert "a-answer" not in grade_ids(result.notebook)
    assert texts(result) == ["answer cell a-answer (exercise a) is missing: deleted, or its nbgrader metadata "
                             "removed by another editor"]


def test_a_test_cell_moved_above_its_answer_runs_after_it():
    mine = released()
    mine["cells"].insert(0, mine["cells"].pop(5))
    result = repair(mine, released())
    assert grade_ids(result.notebook) == ["intro", "a-answer", "a-tests", "plain", "b-answer", "b-tests"]
    assert result.origin == [2, 3, 4, 5, 6, 1]
    assert texts(result) == ["test cell b-tests (exercise b, cell 1) was above its answer cell b-answer: the grader "
                             "ran it after the answer"]


def test_stripped_metadata_is_restored_by_cell_id_or_by_a_test_cells_source():
    mine = released()
    mine["cells"][1]["metadata"] = {}  # an editor that keeps ids
    mine["cells"][5]["metadata"] = {}
    mine["cells"][5]["id"] = "renamed"  # one that drops ids too: a read-only test cell still has its source
    result = repair(mine, released())
    assert grade_ids(result.notebook) == grade_ids(released())
    assert texts(result) == [
        "answer cell a-answer (exercise a, cell 2) had lost its nbgrader metadata (saved by an editor that drops "
        "it?): the grader restored it",
        "test cell b-tests (exercise b, cell 6) had lost its nbgrader metadata (saved by an editor that drops it?): "
        "the grader restored it",
    ]


def test_a_notebook_stripped_of_ids_and_metadata_gets_its_graded_cells_back():
    mine = released()
    for cell in mine["cells"]:
        cell["metadata"] = {}
        del cell["id"]
    mine["nbformat_minor"] = 4
    result = repair(mine, released())
    assert grade_ids(result.notebook) == ["plain", "a-answer", "a-tests", "plain", "b-answer", "b-tests"]
    assert [n.text.split(")")[0] for n in result.notes] == [  # read-only tests first: they place the answers
        "test cell a-tests (exercise a, cell 3", "test cell b-tests (exercise b, cell 6",
        "answer cell a-answer (exercise a, cell 2", "answer cell b-answer (exercise b, cell 5"]
    assert all(n.text.endswith("had lost its nbgrader metadata (saved by an editor that drops it?): the grader "
                               "restored it") for n in result.notes)


def test_an_answer_among_the_learners_own_cells_is_not_guessed():
    mine = released()
    for index in (1, 2):
        mine["cells"][index]["metadata"] = {}
        mine["cells"][index]["id"] = f"renamed{index}"
    mine["cells"].insert(1, _cell("code", "mine", "x = 1"))
    result = repair(mine, released())
    assert "a-answer" not in grade_ids(result.notebook) and "a-tests" in grade_ids(result.notebook)
    assert "answer cell a-answer (exercise a) is missing" in texts(result)[-1]


def test_a_retyped_cell_is_changed_back():
    mine = released()
    for index in (4, 5):
        cell = mine["cells"][index]
        cell["cell_type"] = "markdown" if index == 4 else "raw"
        del cell["outputs"], cell["execution_count"]
        cell["attachments"] = {}
    result = repair(mine, released())
    cells = result.notebook["cells"]
    assert [c["cell_type"] for c in cells[4:]] == ["code", "code"]
    assert cells[4]["outputs"] == [] and "attachments" not in cells[4]
    assert texts(result) == [
        "answer cell b-answer (exercise b, cell 5) was changed to a markdown cell: the grader changed it back to "
        "code, as the lab has it",
        "test cell b-tests (exercise b, cell 6) was changed to a raw cell: the grader changed it back to code, as the "
        "lab has it",
    ]


def test_foreign_or_malformed_nbgrader_metadata_is_dropped_and_graded_metadata_reset():
    mine = released()
    mine["cells"][3]["metadata"]["nbgrader"] = {"grade_id": "other-tests", "grade": True, "points": 9}
    mine["cells"][0]["metadata"]["nbgrader"] = {}  # what nbgrader's own DeduplicateIds leaves behind
    mine["cells"][2]["metadata"]["nbgrader"] = {"grade_id": "a-tests", "points": 100}  # edited, no schema_version
    result = repair(mine, released())
    cells = result.notebook["cells"]
    assert "nbgrader" not in cells[3]["metadata"]
    for index in (0, 2):
        assert cells[index]["metadata"]["nbgrader"] == released()["cells"][index]["metadata"]["nbgrader"]
    assert texts(result) == ["cell 4 carries nbgrader metadata of a cell this lab does not have ('other-tests', "
                             "copied from another notebook?): it ran as a plain cell"]


def test_a_cell_that_stopped_the_grader_is_skipped_by_tag_and_a_test_cell_loses_its_points():
    result = repair(released(), released())
    notebook, notes = result.skipping({1: "killed the kernel", 5: "killed the kernel"}, "skip-me")
    cells = notebook["cells"]
    assert cells[1]["metadata"]["tags"] == ["skip-me"] and cells[1]["metadata"]["nbgrader"]["solution"]
    # nbgrader scores a graded cell without errors as passed: a test that did not run must not be graded.
    assert cells[5]["metadata"]["tags"] == ["skip-me"] and "nbgrader" not in cells[5]["metadata"]
    assert [n.text for n in notes] == [
        "answer cell a-answer (exercise a, cell 2) killed the kernel: the grader skipped it and graded the rest",
        "test cell b-tests (exercise b, cell 6) killed the kernel: the grader skipped it and graded the rest",
    ]
    assert result.describe(3) == ("", "cell 4 (not one of the lab's cells)")
    assert "tags" not in result.notebook["cells"][1]["metadata"]  # the repaired notebook itself is untouched


# ---------------------------------------------------------------- reading


@pytest.mark.parametrize("content, reason", [
    ("", "is an empty file"),
    ("  \n", "is an empty file"),
    ('{"cells": [oops', "is not a Jupyter notebook: not valid JSON (Expecting value: line 1 column 12"),
    ("[1, 2]", "is not a Jupyter notebook: JSON without a list of cells"),
    ('{"cells": "x"}', "is not a Jupyter notebook: JSON without a list of cells"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}',
     "is not a Jupyter notebook (The notebook is invalid"),
])
def test_load_says_why_a_file_is_not_a_notebook(tmp_path, content, reason):
    path = tmp_path / "x.ipynb"
    path.write_text(content)
    with pytest.raises(InvalidInput, match="notebook") as info:
        load(path)
    assert reason in str(info.value) and str(path) in str(info.value)


def test_load_accepts_duplicate_cell_ids_silently(tmp_path, recwarn):
    notebook = released()
    notebook["cells"][5]["id"] = "a-tests"
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(notebook))
    assert len(load(path)["cells"]) == 6
    assert not recwarn.list  # repair() reports it, naming the cell


# ---------------------------------------------------------------- finding


def touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_find_takes_nbgrader_and_flat_layouts_and_names_what_it_ignores(tmp_path):
    canonical = touch(tmp_path / "ann" / LAB / f"{LAB}.ipynb")
    touch(tmp_path / "ann" / LAB / ".ipynb_checkpoints" / f"{LAB}-checkpoint.ipynb")
    touch(tmp_path / "ann" / "06-lab" / "06-lab.ipynb")  # another lab's work is not this lab's submission
    flat = touch(tmp_path / "bob.ipynb")
    in_folder = touch(tmp_path / "cy" / f"{LAB}.ipynb")
    touch(tmp_path / "dee.zip")
    gradebook = touch(tmp_path / "grades.csv")
    found, ignored = find(tmp_path, LAB, other_labs={"06-lab"}, skip=[gradebook])
    assert [(s.student, s.path, s.notes, s.problem) for s in found] == [
        ("ann", canonical, (), ""), ("bob", flat, (), ""), ("cy", in_folder, (), "")]
    assert ignored == ["dee.zip (neither a student folder nor a .ipynb)"]


def test_find_grades_the_only_notebook_of_a_folder_wherever_it_is_and_says_so(tmp_path):
    nested = touch(tmp_path / "ann" / "Downloads" / "lab copy.ipynb")
    (found,), _ = find(tmp_path, LAB)
    assert found.path == nested
    assert found.notes == (f"graded ann/Downloads/lab copy.ipynb, the only notebook in the folder "
                           f"(expected ann/{LAB}/{LAB}.ipynb)",)


def test_find_names_every_other_notebook_of_a_student(tmp_path):
    canonical = touch(tmp_path / "ann" / LAB / f"{LAB}.ipynb")
    touch(tmp_path / "ann" / LAB / f"{LAB}-Copy1.ipynb")
    (found,), _ = find(tmp_path, LAB)
    assert found.path == canonical
    assert found.notes == (f"not graded: ann/{LAB}/{LAB}-Copy1.ipynb (graded ann/{LAB}/{LAB}.ipynb)",)


def test_find_refuses_to_guess_between_two_notebooks(tmp_path):
    touch(tmp_path / "ann" / "one.ipynb")
    touch(tmp_path / "ann" / "two.ipynb")
    touch(tmp_path / "bob" / "notes.txt")
    (ann, bob), _ = find(tmp_path, LAB)
    assert ann.path is None and ann.problem == (
        f"2 notebooks and none at ann/{LAB}/{LAB}.ipynb: ann/one.ipynb, ann/two.ipynb; keep the one to grade there")
    assert bob.path is None and bob.problem == f"no notebook in bob/ (expected bob/{LAB}/{LAB}.ipynb)"


@pytest.mark.parametrize("entries, message", [
    (["ann/x/y.ipynb", "ann.ipynb"], "ann and ann.ipynb are two submissions of one student (the same student)"),
    (["Ann.ipynb", "ann.ipynb"], "Ann.ipynb and ann.ipynb are two submissions of one student (names that differ "
                                 "only by case)"),
    (["ANN/x.ipynb", "Ann.ipynb", "ann/x.ipynb"], "ANN, Ann.ipynb and ann are two submissions of one student"),
])
def test_find_refuses_two_entries_for_one_student_naming_both(tmp_path, entries, message):
    for entry in entries:
        touch(tmp_path / entry)
    with pytest.raises(InvalidInput, match="submissions") as info:
        find(tmp_path, LAB)
    assert message in str(info.value) and "Keep one submission per student" in str(info.value)
