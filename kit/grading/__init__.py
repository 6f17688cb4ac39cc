"""nbgrader glue: labs generated from solutions, learners' copies and submissions, autograding.

``kit.grading.check(...)``, ``grade_cohort(...)`` and ``build_labs(...)`` come from
:mod:`kit.grading.autograde`. The package's modules:

- ``autograde``: regenerate ``labs/`` from ``solutions/`` and prove they agree; grade a learner or a cohort
- ``submissions``: learners' notebooks as they reach the grader, found, read and repaired
- ``workcopy``: each learner's own copies of the labs, outside the tracked tree"""

from __future__ import annotations

from .autograde import (
    CELL_TIMEOUT,
    ExerciseScore,
    Gradebook,
    GradeReport,
    LabsCheck,
    build_labs,
    check,
    check_labs,
    grade_cohort,
    grade_notebook,
    list_labs,
    make_submission,
    solution_answers,
)

__all__ = [
    "CELL_TIMEOUT", "build_labs", "check", "check_labs", "ExerciseScore", "grade_cohort", "grade_notebook",
    "Gradebook", "GradeReport", "LabsCheck", "list_labs", "make_submission", "solution_answers",
]
