"""kit.runbooks: the shipped runbooks lint clean, each broken fixture yields exactly its problem, notebooks run."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from kit import runbooks, sandbox, slo
from kit.config import REPO_ROOT
from kit.errors import InvalidInput
from kit.runbooks import REQUIRED_SECTIONS, Problem

FIXTURES = Path(__file__).parents[1] / "fixtures" / "runbooks"
SHIPPED = sorted(p for p in (REPO_ROOT / "runbooks").glob("*.md") if p.name != "TEMPLATE.md")


def _repo(tmp_path: Path, *runbook_files: str, rules: tuple[str, ...] = (), shipped: bool = False) -> Path:
    """A minimal repository layout holding only the given fixtures (and, for live lints, the shipped runbooks)."""
    root = tmp_path / "repo"
    for folder in ("runbooks", "sandbox/rules", "slos"):
        (root / folder).mkdir(parents=True)
    for path in SHIPPED if shipped else ():
        shutil.copy(path, root / "runbooks" / path.name)
    for name in runbook_files:
        shutil.copy(FIXTURES / name, root / "runbooks" / name)
    for name in rules:
        shutil.copy(FIXTURES / "rules" / name, root / "sandbox" / "rules" / name)
    return root


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if text in line)


def _only(report: runbooks.LintReport) -> Problem:
    assert len(report.problems) == 1, str(report)
    return report.problems[0]


# --------------------------------------------------------------------------- parse


def test_parse_finds_sections_snippets_and_commands_with_their_lines():
    book = runbooks.parse(FIXTURES / "good.md")
    path = FIXTURES / "good.md"
    assert book.title == "FixtureAlert"
    assert [s.title for s in book.sections] == list(REQUIRED_SECTIONS)
    assert book.section("First checks").line == _line(path, "## First checks")
    [query] = book.promql
    assert query.text == 'sum(rate(http_requests_total{job="shop"}[1m]))'
    assert query.line == _line(path, "sum(rate(") and query.section == "First checks"
    assert [(c.text, c.line, c.section) for c in book.commands] == [
        ("kit status", _line(path, "kit status"), "First checks"),
        ("kit mitigate restart shop", _line(path, "kit mitigate restart"), "Mitigations"),
    ]


def test_parse_accepts_a_runbook_name():
    assert runbooks.parse("checkout-errors").path == REPO_ROOT / "runbooks" / "checkout-errors.md"
    with pytest.raises(InvalidInput, match="no runbook of that name"):
        runbooks.parse("no-such-runbook")


# --------------------------------------------------------------------------- shipped runbooks


def test_shipped_runbooks_lint_clean_offline():
    report = runbooks.lint(live=False)
    assert report.ok, str(report)
    assert report.runbooks == len(SHIPPED) and report.queries > 0
    assert "NOT run" in str(report)


def test_every_shipped_runbook_explains_its_slo_burn_alerts():
    for spec_path in sorted((REPO_ROOT / "slos").glob("*.yml")):
        spec = slo.load_spec(spec_path)
        alert = slo.generate_rules(spec)["groups"][1]["rules"][0]
        assert alert["alert"] in (REPO_ROOT / spec.runbook_url).read_text(), spec_path.name


def test_the_template_follows_itself(tmp_path):
    root = _repo(tmp_path)
    shutil.copy(REPO_ROOT / "runbooks" / "TEMPLATE.md", root / "runbooks" / "template-copy.md")
    assert runbooks.lint(live=False, root=root).ok


def test_shipped_runbooks_lint_clean_live_with_slo_alerts_loaded(live):
    """Live lint reads what Prometheus has loaded, so SLO alerts installed at run time are covered too."""
    scale = live.profile_spec.time_scale
    groups = [group for path in sorted((REPO_ROOT / "slos").glob("*.yml"))
              for group in slo.generate_rules(slo.load_spec(path), time_scale=scale,
                                              profile=live.profile_spec)["groups"]]
    sandbox.install_rules("slo-runbook-lint", {"groups": groups}, config=live)
    try:
        report = runbooks.lint(config=live)
        assert report.ok, str(report)
        assert report.alerts >= 4 * len(list((REPO_ROOT / "slos").glob("*.yml")))
        assert "run against Prometheus" in str(report)

        sandbox.install_rules("runbook-lint-fixture", yaml.safe_load(
            (FIXTURES / "rules" / "no-runbook-url.yml").read_text()), config=live)
        problem = _only(runbooks.lint(config=live))
        assert (problem.file, problem.line) == (runbooks.LIVE_SOURCE, 0)
        assert "PageWithoutRunbook" in problem.message and "no runbook_url" in problem.message
    finally:
        sandbox.remove_rules("runbook-lint-fixture", config=live)
        sandbox.remove_rules("slo-runbook-lint", config=live)


# --------------------------------------------------------------------------- broken runbooks


@pytest.mark.parametrize(("fixture", "at", "message"), [
    ("missing-section.md", "## Mitigations", "missing section '## Likely causes' (it belongs before '## Mitigations')"),
    ("empty-section.md", "## User impact", "section '## User impact' is empty"),
    ("out-of-order.md", "## Mitigations", "section '## Mitigations' is out of order: it belongs before '## Escalation'"),
    ("no-promql.md", "## First checks", "'## First checks' has no promql block"),
    ("no-command.md", "## Mitigations", "'## Mitigations' has no sh block"),
    ("bad-command.md", "kit mitigate reboot shop", "`kit mitigate reboot shop` is not a valid kit command"),
    ("game-master-tool.md", "kit fault list", "`kit fault list` is the game master's tool, not the on-call's"),
])
def test_a_broken_structure_is_one_problem_at_its_line(tmp_path, fixture, at, message):
    problem = _only(runbooks.lint(live=False, root=_repo(tmp_path, fixture)))
    assert (problem.file, problem.line) == (f"runbooks/{fixture}", _line(FIXTURES / fixture, at))
    assert problem.message.startswith(message), problem.message


@pytest.mark.parametrize(("fixture", "at", "message"), [
    ("promql-syntax-error.md", "sum(rate(", "parse error: unclosed left parenthesis"),
    ("promql-unknown-function.md", "rate_of_change", 'parse error: unknown function with name "rate_of_change"'),
])
def test_a_query_prometheus_rejects_is_one_problem_with_its_message(live, tmp_path, fixture, at, message):
    root = _repo(tmp_path, fixture, shipped=True)
    problem = _only(runbooks.lint(config=live, root=root))
    assert (problem.file, problem.line) == (f"runbooks/{fixture}", _line(FIXTURES / fixture, at))
    assert message in problem.message, problem.message
    assert runbooks.lint(live=False, root=root).ok  # offline, queries are not run


@pytest.mark.parametrize(("rules", "file", "line", "message"), [
    ("no-runbook-url.yml", "sandbox/rules/no-runbook-url.yml", 0,
     "alert PageWithoutRunbook (group fixture) pages but has no runbook_url annotation"),
    ("missing-runbook.yml", "sandbox/rules/missing-runbook.yml", 0,
     "alert FixtureAlert (group fixture): runbook_url 'runbooks/does-not-exist.md' points at "
     "runbooks/does-not-exist.md, which does not exist"),
    ("web-links.yml", "sandbox/rules/web-links.yml", 0,
     "alert WikiAlert (group fixture): runbook_url 'https://wiki.example.com/oncall/shop' is a web address "
     "outside runbooks/"),
    ("unnamed-alert.yml", "runbooks/good.md", 1, "alert StrangerAlert links here, but the runbook never names it"),
])
def test_a_broken_rule_link_is_one_problem(tmp_path, rules, file, line, message):
    problem = _only(runbooks.lint(live=False, root=_repo(tmp_path, "good.md", rules=(rules,))))
    assert (problem.file, problem.line) == (file, line) and problem.message.startswith(message), problem


def test_a_rule_file_that_is_not_yaml_is_one_problem_at_its_line(tmp_path):
    root = _repo(tmp_path, "good.md")
    (root / "sandbox" / "rules" / "broken.yml").write_text("groups:\n  - name: x\n    rules: [\n")
    problem = _only(runbooks.lint(live=False, root=root))
    assert (problem.file, problem.line) == ("sandbox/rules/broken.yml", 4)
    assert problem.message.startswith("cannot read the rules: not valid YAML: ") and "\n" not in problem.message


def test_slo_specs_count_offline_and_a_broken_one_is_reported(tmp_path):
    root = _repo(tmp_path, "good.md")
    shutil.copy(REPO_ROOT / "slos" / "checkout-availability.yml", root / "slos")
    problem = _only(runbooks.lint(live=False, root=root))
    assert problem.file == "slos/checkout-availability.yml" and "runbooks/checkout-errors.md" in problem.message
    (root / "slos" / "checkout-availability.yml").write_text("name: Not A Name\n")
    problem = _only(runbooks.lint(live=False, root=root))
    assert problem.file == "slos/checkout-availability.yml" and "cannot generate" in problem.message


def test_report_lists_problems_sorted_by_file_and_line(tmp_path):
    root = _repo(tmp_path, "out-of-order.md", "empty-section.md", "missing-section.md")
    lines = str(runbooks.lint(live=False, root=root)).splitlines()
    assert [line.split(": ")[0] for line in lines[:-1]] == [
        f"runbooks/empty-section.md:{_line(FIXTURES / 'empty-section.md', '## User impact')}",
        f"runbooks/missing-section.md:{_line(FIXTURES / 'missing-section.md', '## Mitigations')}",
        f"runbooks/out-of-order.md:{_line(FIXTURES / 'out-of-order.md', '## Mitigations')}",
    ]
    assert lines[-1].endswith(": 3 problems")


# --------------------------------------------------------------------------- command line


def _cli(*argv: str) -> int:
    from kit.cli import main

    return main(list(argv))


def test_cli_lint_exits_0_when_clean_and_1_with_one_line_per_problem(tmp_path, capsys):
    assert _cli("runbooks", "lint", "--offline") == 0
    assert "0 problems" in capsys.readouterr().out
    root = _repo(tmp_path, "empty-section.md", "no-command.md")
    assert _cli("runbooks", "lint", "--offline", "--root", str(root)) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[0].startswith("runbooks/empty-section.md:") and out[-1].endswith("2 problems")


def test_cli_notebook_writes_the_file(tmp_path, capsys):
    out = tmp_path / "nb.ipynb"
    assert _cli("runbooks", "notebook", "service-down", "--out", str(out)) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    nbformat.validate(nbformat.read(out, as_version=4))


# --------------------------------------------------------------------------- notebooks


def test_notebook_has_a_cell_per_query_and_command_and_skips_mitigations(tmp_path):
    book = runbooks.parse("checkout-errors")
    nb = nbformat.read(runbooks.to_notebook(book.path, tmp_path / "checkout.ipynb"), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source == "import kit"
    queries = [c.source for c in code if c.source.startswith("kit.query(")]
    assert [eval(q.removeprefix("kit.query(")[:-1]) for q in queries] == [s.text.strip() for s in book.promql]
    shell = [c for c in code if c.source.lstrip().startswith("!")]
    assert len(shell) == len([s for s in book.snippets if s.lang == "sh"])
    assert all(line.startswith("!kit ") for c in shell for line in c.source.splitlines())
    skipped = [c.source for c in shell if "skip-execution" in c.metadata.get("tags", [])]
    assert "!kit mitigate rollback" in skipped and "!kit status" not in skipped
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert all(f"## {title}" in prose for title in REQUIRED_SECTIONS) and "```promql" not in prose


def test_notebook_defaults_to_the_state_folder(live):
    path = runbooks.to_notebook("shop-memory-leak", config=live)
    assert path == live.state / "runbooks" / "shop-memory-leak.ipynb" and path.is_file()


def test_every_shipped_notebook_executes_against_the_sandbox(live, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    for path in SHIPPED:
        nb = nbformat.read(runbooks.to_notebook(path, tmp_path / f"{path.stem}.ipynb"), as_version=4)
        NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
        outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
        assert "sandbox: healthy" in outputs, (path.name, outputs[-2000:])
        frames = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("kit.query(")]
        assert all(c.outputs and c.outputs[0]["output_type"] == "execute_result" for c in frames), path.name
