"""`kit labs`, `check`, `grade`: the labs built from their solutions and verified, and a notebook or a cohort graded."""

from __future__ import annotations

import argparse

from ..errors import InvalidInput
from . import command, config_from


def _labs_arguments(p: argparse.ArgumentParser) -> None:
    labs = p.add_subparsers(dest="action", required=True)
    b = labs.add_parser("build", help="regenerate labs/ (all labs, or one)")
    b.add_argument("lab", nargs="?")
    labs.add_parser("verify", aliases=["check"],
                    help="fail when labs/ is out of sync with solutions/ or leaks hidden tests "
                         "(`check` is its older name)")
    b = labs.add_parser("copy", help="make or update your working copies of the labs (KIT_WORK_DIR), as `kit lab` does")
    b.add_argument("lab", nargs="?", help="one lab: its name or number (default: every lab)")
    b.add_argument("--fresh", action="store_true",
                   help="replace your copy of LAB with the released version; yours is kept as a backup beside it")


@command("labs", "regenerate labs/ from solutions/, or verify they are in sync", _labs_arguments)
def _labs(args: argparse.Namespace) -> int:
    from .. import grading
    if args.action == "copy":
        from ..grading import workcopy
        config = config_from(args)
        if args.fresh:
            if not args.lab:
                raise InvalidInput("lab", "--fresh replaces one lab's copy; name it: kit labs copy 00 --fresh")
            results = workcopy.fresh(args.lab, config)
        else:
            results = workcopy.ensure(config, [workcopy.find_lab(args.lab)] if args.lab else None)
        print(workcopy.report(results, config))
        return 0
    if args.action == "build":
        for path in grading.build_labs(args.lab):
            print(f"built {path}")
        return 0
    result = grading.verify_labs()
    print(result)
    return 0 if result.ok else 1


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("notebook", help="a lab's name or number (your working copy of it), or a notebook file")
    p.add_argument("--lab", default=None, help="which lab it is (default: from the file or folder name)")


@command("check", "grade your own copy of a lab in a private sandbox (yours is left alone): "
                  "points per exercise (exit 1 unless full marks)", _check_arguments)
def _check(args: argparse.Namespace) -> int:
    from .. import grading
    from ..grading import workcopy
    report = grading.grade_notebook(workcopy.resolve(args.notebook, config_from(args)), lab=args.lab, progress=print)
    print(report)
    return 0 if report.passed else 1


def _grade_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("submissions", help="folder of <student>/<lab>/<lab>.ipynb or <student>.ipynb")
    p.add_argument("--lab", required=True)
    p.add_argument("--out", default="gradebook.csv", help="CSV file to write")


@command("grade", "autograde a folder of submissions into a CSV gradebook, in one private sandbox", _grade_arguments)
def _grade(args: argparse.Namespace) -> int:
    from .. import grading
    book = grading.grade_cohort(args.submissions, args.lab, args.out, progress=print)
    print(book)
    return 0
