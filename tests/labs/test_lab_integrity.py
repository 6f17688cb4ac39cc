"""Every lab is fair to the learner: pure checks on the source notebooks, no kernel.

(a) Every name a test cell reads from the learner's answer is named in the
    instructions before the answer cell: a hidden test may not depend on a
    variable the learner was never asked for.
(b) Nothing the learner reads before an answer cell (markdown, given code, the
    visible parts of earlier cells) contains the answer a hidden test compares
    against. A heuristic: the constants a hidden test checks for equality, and
    the constants of the solution's value it compares, searched as whole words;
    values the instructions legitimately give are listed, with the reason, in
    ``GIVEN``.
(c) The released labs/ hold no solution or hidden-test text.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit import runbooks
from kit.config import REPO_ROOT
from kit.grading import autograde

SOURCES = sorted((REPO_ROOT / autograde.SOLUTIONS).glob("*/*.ipynb"))
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*$", re.M | re.S)
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS[^\n]*$", re.M | re.S)

# (lab, test cell's grade_id, answer value) -> why the instructions may show it before the answer.
GIVEN: dict[tuple[str, str, object], str] = {
    ("00-mob-and-sandbox", "ex4-error-ratio", 60): "the [1m] window in seconds; the exercise asks for 1 minute",
    ("00-mob-and-sandbox", "ex5-page", "CheckoutErrorRatioHigh"):
        "section 4 says which alert it waits for; exercise 5 is about reading it from the page's DataFrame",
    ("00-mob-and-sandbox", "ex5-page", "page"): "an ordinary word of the lab (your first page); no text says it is the severity",
    ("01-instrumentation", "ex1-handler", "/products/{product_id}"): "the route template the exercise specifies",
    ("01-instrumentation", "ex2-types", "counter"): "one of the three choices the exercise offers",
    ("01-instrumentation", "ex2-types", "gauge"): "one of the three choices the exercise offers",
    ("01-instrumentation", "ex2-types", "histogram"): "one of the three choices the exercise offers",
    ("04-runbooks", "ex1-diagnosis", "payments"): "one of the two components the exercise offers",
    ("04-runbooks", "ex2-runbook", "payments"): "the service the runbook is about",
    ("04-runbooks", "ex2-runbook", "kit mitigate restart payments"):
        "the fix section 1 applied; exercise 2 asks to write it into a new runbook",
    ("04-runbooks", "ex3-fix", "kit mitigate restart payments"):
        "the fix section 1 applied; exercise 3 asks to put it where the wrong one was",
    ("04-runbooks", "ex3-fix", "payments_client_requests_total"):
        "the metric the given rules use; exercise 3 is about spotting its misspelling",
    ("06-incident-drill", "ex3-diagnosis", "payments"): "one of the two components the exercise offers",
    ("07-safe-releases", "ex4-judges", "statistical"): "one of the three judges the exercise names",
    ("07-safe-releases", "ex7-gate", "1.2.0"): "the version the exercise asks the gate about",
    ("07-safe-releases", "ex7-gate", "P0"): "the exemption the exercise asks for",
    ("07-safe-releases", "ex7-gate", "catalog-latency"):
        "the SLO section 7 burns; the exercise is about asking the gate of that SLO, not of the plan's",
}


@dataclass(frozen=True)
class Cell:
    kind: str  # markdown | given | answer | test
    grade_id: str
    source: str

    @property
    def seen(self) -> str:
        """What a learner reads of this cell before answering anything in it."""
        if self.kind == "answer":
            return SOLUTION.sub("", self.source)
        return HIDDEN.sub("", self.source)


@dataclass(frozen=True)
class Exercise:
    lab: str
    grade_id: str
    answer: str  # the solution regions of the answer cell(s)
    test: str  # the whole test cell
    hidden: str  # its hidden regions
    instructions: str  # what was said since the previous exercise's test
    before: str  # everything seen from the top of the notebook up to the answer


def cells_of(path: Path) -> list[Cell]:
    cells = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            kind = "answer" if meta.get("solution") else "markdown"
        elif meta.get("solution"):
            kind = "answer"
        elif meta.get("grade"):
            kind = "test"
        else:
            kind = "given"
        cells.append(Cell(kind, meta.get("grade_id", ""), source))
    return cells


def exercises(path: Path) -> list[Exercise]:
    """The autograded exercises: answer cell(s) followed by a test cell with hidden tests."""
    cells, found, start = cells_of(path), [], 0
    for index, cell in enumerate(cells):
        if cell.kind != "test":
            continue
        answers = [i for i in range(start, index) if cells[i].kind == "answer" and cells[i].source.lstrip().startswith("###")]
        first = answers[0] if answers else index
        found.append(Exercise(
            lab=path.parent.name,
            grade_id=cell.grade_id,
            answer="\n".join(m for i in answers for m in SOLUTION.findall(cells[i].source)),
            test=cell.source,
            hidden="\n".join(HIDDEN.findall(cell.source)),
            instructions="\n".join(c.seen for c in cells[start:first + 1]),
            before="\n".join(c.seen for c in cells[:first + 1]),
        ))
        start = index + 1
    return found


EXERCISES = [e for path in SOURCES for e in exercises(path)]


def assigned(code: str) -> dict[str, ast.expr | None]:
    """Names the code binds at its top level or in its functions, with the value of a plain assignment."""
    names: dict[str, ast.expr | None] = {}
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        names[name.id] = node.value if isinstance(target, ast.Name) else None
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.setdefault(node.id, None)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.setdefault(node.name, None)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.setdefault((alias.asname or alias.name).split(".")[0], None)
    return names


def free_names(code: str) -> set[str]:
    """Names the code reads without binding them itself."""
    tree = ast.parse(code)
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - set(assigned(code))


def answer_values(exercise: Exercise) -> set[object]:
    """The values the hidden tests accept as the answer: see the module docstring, (b)."""
    solution = assigned(exercise.answer)
    values: set[object] = set()

    def constants(node: ast.AST, *, dict_values: bool = False) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float)) and not isinstance(node.value, bool):
            values.add(node.value)
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            for element in node.elts:
                constants(element)
        elif isinstance(node, ast.Dict) and dict_values:
            for value in node.values:
                constants(value)

    tree = ast.parse(exercise.hidden)
    # `[s for s in book.promql if s.section == "First checks"]` selects what to check; it expects nothing
    filters = {id(test) for node in ast.walk(tree) if isinstance(node, ast.comprehension) for test in node.ifs}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare) or id(node) in filters:
            continue
        operands = [node.left, *node.comparators]
        if all(isinstance(op, (ast.Eq, ast.In)) for op in node.ops):
            for operand in operands:
                constants(operand)
                # comparing (part of) a solution's value: the constants the solution gave it are the answer
                for name in (n.id for n in ast.walk(operand) if isinstance(n, ast.Name)):
                    if solution.get(name) is not None:
                        constants(solution[name], dict_values=True)
        # abs(answer - expected) < tolerance
        left = node.left
        if (isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "abs"
                and left.args and isinstance(left.args[0], ast.BinOp) and isinstance(left.args[0].op, ast.Sub)):
            constants(left.args[0].left)
            constants(left.args[0].right)
    # a one-letter choice or a single digit is in every listing of the choices and every count
    return {v for v in values if len(_spelled(v)) > 1}


def _spelled(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def appears(value: object, text: str) -> bool:
    spelled = re.escape(_spelled(value))
    if isinstance(value, str):
        return re.search(rf"(?<!\w){spelled}(?!\w)", text) is not None
    return re.search(rf"(?<![\w.]){spelled}(?!\d|\.\d)", text) is not None


def _id(exercise: Exercise) -> str:
    return f"{exercise.lab}:{exercise.grade_id}"


def test_every_lab_has_exercises_with_hidden_tests() -> None:
    labs = {e.lab for e in EXERCISES if e.hidden.strip()}
    assert labs == {p.parent.name for p in SOURCES} and len(labs) >= 7


@pytest.mark.parametrize("exercise", EXERCISES, ids=_id)
def test_every_name_a_test_reads_is_named_in_the_instructions(exercise: Exercise) -> None:
    needed = free_names(exercise.test) & set(assigned(exercise.answer))
    unnamed = sorted(n for n in needed if not re.search(rf"(?<!\w){re.escape(n)}(?!\w)", exercise.instructions))
    assert not unnamed, (
        f"{exercise.lab} {exercise.grade_id}: the tests read {unnamed} from the answer, "
        "but the instructions before the answer cell never name them"
    )


@pytest.mark.parametrize("exercise", EXERCISES, ids=_id)
def test_nothing_before_an_answer_gives_it_away(exercise: Exercise) -> None:
    leaked = sorted(
        (_spelled(v) for v in answer_values(exercise)
         if appears(v, exercise.before) and (exercise.lab, exercise.grade_id, v) not in GIVEN),
    )
    assert not leaked, (
        f"{exercise.lab} {exercise.grade_id}: {leaked} is what the hidden tests expect, and the notebook shows it "
        "before the answer cell; reword, or list it in GIVEN with the reason"
    )


def test_every_allowance_is_still_needed() -> None:
    used = {(e.lab, e.grade_id, v) for e in EXERCISES for v in answer_values(e) if appears(v, e.before)}
    assert set(GIVEN) <= used, f"no longer needed, remove from GIVEN: {sorted(map(str, set(GIVEN) - used))}"


def test_the_heuristic_finds_a_leak_and_a_name_never_asked_for() -> None:
    source = (
        "### BEGIN SOLUTION\nDIAGNOSIS = {'component': 'payments', 'mode': 'slow'}\nseverity = 'page'\n### END SOLUTION"
    )
    hidden = "assert DIAGNOSIS['mode'] == truth['mode']\nassert abs(factor - 14.4) < 1e-6\n"
    exercise = Exercise("lab", "ex", SOLUTION.findall(source)[0], f"### BEGIN HIDDEN TESTS\n{hidden}### END HIDDEN TESTS\n"
                        "assert severity\n", hidden, "Store DIAGNOSIS", 'SCENARIO = "payments-slow"  # burns 14.4x')
    assert {"payments", "slow", 14.4} <= answer_values(exercise)
    assert appears("slow", exercise.before) and appears(14.4, exercise.before) and not appears(1.4, exercise.before)
    assert free_names(exercise.test) & set(assigned(exercise.answer)) == {"DIAGNOSIS", "severity"}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.parent.name)
def test_released_labs_hold_no_hidden_test(source: Path) -> None:
    assert autograde._leaks(REPO_ROOT / autograde.LABS, REPO_ROOT) == []
    released = REPO_ROOT / autograde.LABS / source.parent.name / source.name
    shown = "\n".join("".join(c["source"]) for c in json.loads(released.read_text(encoding="utf-8"))["cells"])
    cells = cells_of(source)
    elsewhere = "\n".join(c.seen for c in cells)
    hidden = {line.strip() for c in cells for block in HIDDEN.findall(c.source) for line in block.splitlines()}
    # a line the notebook also shows outside its hidden tests (a shared import, say) proves nothing
    secret = {line for line in hidden if len(line) > 12 and line not in elsewhere}
    assert secret and not [line for line in secret if line in shown]


def test_runbooks_leave_the_game_masters_tools_to_the_game_master() -> None:
    # lab 06 shows the paged runbook's first checks during a secret drill: `kit fault list` there is the answer
    problems = [p for p in runbooks.lint(live=False).problems if "game master" in p.message]
    assert not problems, problems
