"""nbgrader glue: labs generated from solutions, learners' copies and submissions, autograding.

``kit.grading.check(...)``, ``grade_cohort(...)`` and ``build_labs(...)`` come from
:mod:`kit.grading.autograde`. The package's modules:

- ``autograde``: regenerate ``labs/`` from ``solutions/`` and verify they agree (``verify_labs``); grade a
  learner (``check``, `kit check`) or a cohort
- ``submissions``: learners' notebooks as they reach the grader, found, read and repaired
- ``workcopy``: each learner's own copies of the labs, outside the tracked tree"""

from __future__ import annotations

from .autograde import (
    CELL_TIMEOUT,
    ExerciseScore,
    Gradebook,
    GradeReport,
    LabsVerification,
    build_labs,
    check,
    grade_cohort,
    grade_notebook,
    list_labs,
    make_submission,
    solution_answers,
    verify_labs,
)

__all__ = [
    "CELL_TIMEOUT", "build_labs", "check", "ExerciseScore", "grade_cohort", "grade_notebook",
    "Gradebook", "GradeReport", "LabsVerification", "list_labs", "make_submission", "solution_answers", "verify_labs",
]
