"""The readiness review: the template and the classes as data, the example, sections and checklists judged against a
release's class, and input that is not a review refused in one line naming the file and the field."""

from __future__ import annotations

import re

import pytest

from kit.config import CONTENT, ContentPaths
from kit.errors import InvalidInput
from kit.ownership.review import AWARENESS, State, check, load_rules, parse_classes, review

EXAMPLE = CONTENT.readiness / "shop-1.1.0.md"
TEMPLATE = CONTENT.readiness / "review-template.md"
SECTIONS = ["Description", "Key dates", "Contacts", "Release plan", "Risks", "Test and training plan", "Rollback plan",
            "Observability", "Out of hours", "Hypercare"]
CHECKLISTS = ["Communications", "Security and data protection", "Incident management",
              "Service and supplier management", "Stakeholder awareness"]


@pytest.fixture(scope="module")
def rules():
    return load_rules()


def _front(release_class: str = "gold", **fields: str) -> str:
    lines = [f"{k}: {v}" for k, v in {"service": "shop", "release": "1.1.0", "class": release_class, **fields}.items()]
    return "---\n" + "\n".join(lines) + "\n---\n"


def _with_class(text: str, release_class: str) -> str:
    return re.sub(r"^class: \w+", f"class: {release_class}", text, count=1, flags=re.M)


def _section_of(text: str, title: str, body: str) -> str:
    """``text`` with everything under the ``## title`` heading, up to the next heading, replaced by ``body``."""
    pattern = rf"(^#+ {re.escape(title)}\n)(.*?)(?=^#)"
    changed, count = re.subn(pattern, lambda m: m[1] + body, text, count=1, flags=re.M | re.S)
    assert count == 1, title
    return changed


def test_the_template_has_every_part_with_a_one_line_hint_and_numbered_items(rules):
    parts = rules.template.parts
    assert [p.title for p in parts] == SECTIONS + CHECKLISTS
    assert [p.title for p in parts if p.checklist] == CHECKLISTS
    assert rules.template.part("Out of hours").level == 3  # observability includes out of hours, under it
    for part in parts:
        assert part.hint and "\n" not in part.hint and not part.hint.startswith("_"), part.title
    numbers = [number for part in parts for number, _ in part.items]
    assert len(numbers) == len(set(numbers)) and all(len(p.items) >= 3 for p in parts if p.checklist)
    for index, part in enumerate(p for p in parts if p.checklist):  # 1.x communications ... 5.x stakeholders
        assert all(number.startswith(f"{index + 1}.") for number, _ in part.items), part.title


def test_the_classes_are_data_and_gold_needs_everything_silver_some_bronze_least(rules):
    assert list(rules.classes) == ["gold", "silver", "bronze"]
    gold, silver, bronze = (set(rules.classes[name].required) for name in ("gold", "silver", "bronze"))
    assert gold == set(SECTIONS + CHECKLISTS)
    assert bronze < silver < gold
    assert {"Rollback plan", "Observability", "Out of hours", "Hypercare"} <= silver
    assert all(rules.classes[name].meaning for name in rules.classes)
    assert "Massey" in (CONTENT.readiness / "classes.yml").read_text()  # says where the idea comes from
    assert rules.plans is not None and "lab" in rules.plans


@pytest.mark.parametrize("release_class", ["gold", "silver", "bronze"])
def test_the_template_as_it_is_leaves_open_exactly_what_its_class_needs(rules, release_class):
    result = check(_with_class(TEMPLATE.read_text(), release_class), rules, "template.md")
    required = rules.classes[release_class].required
    assert result.release_class.name == release_class and result.service == "shop" and result.release == "1.1.0"
    assert not result.ok
    assert {f.section for f in result.findings} == set(required)
    for state in result.sections:
        assert state.state is (State.OPEN if state.checklist else State.PLACEHOLDER), state
    for finding in (f for f in result.findings if f.section in SECTIONS):
        assert finding.problem == "still the template's text"
        assert finding.hint == rules.template.part(finding.section).hint
    opened = [f.item for f in result.findings if f.item]
    assert opened == [n for p in rules.template.parts if p.title in required for n, _ in p.items]


def test_the_example_is_a_silver_release_of_the_shop_with_nothing_open(rules):
    result = review(EXAMPLE, rules)
    assert result.ok, "\n".join(map(str, result.findings))
    assert (result.service, result.release, result.release_class.name, result.plan) == ("shop", "1.1.0", "silver",
                                                                                        "lab")
    assert [i.number for i in result.items if i.not_applicable] == ["1.3"]
    printed = str(result)
    assert AWARENESS in printed and "nothing open for a silver release" in printed
    assert "9 of 9 required sections written; 11 of 11 checklist items done (1 not applicable)" in printed


def test_the_example_as_a_gold_release_lacks_the_gold_only_parts(rules):
    result = check(_with_class(EXAMPLE.read_text(), "gold"), rules, "shop.md")
    assert [(f.section, f.problem, f.line) for f in result.findings] == [
        ("Test and training plan", "missing: add a `## Test and training plan` heading", None),
        ("Security and data protection", "missing: add a `## Security and data protection` heading", None),
        ("Service and supplier management", "missing: add a `## Service and supplier management` heading", None)]


@pytest.mark.parametrize("release_class", ["gold", "silver", "bronze"])
def test_each_class_finds_its_own_sections_empty_and_no_others(rules, release_class):
    headings = "".join(f"{'###' if t == 'Out of hours' else '##'} {t}\n\n<!-- to do -->\n\n"
                       for t in SECTIONS + CHECKLISTS)
    result = check(_front(release_class) + headings, rules, "empty.md")
    assert [f.section for f in result.findings] == list(rules.classes[release_class].required)
    for finding in result.findings:
        assert finding.problem == ("no checklist items" if finding.section in CHECKLISTS else "empty"), finding
    assert {s.state for s in result.sections} == {State.EMPTY}


def test_placeholder_empty_and_filled_sections_are_told_apart(rules):
    example = EXAMPLE.read_text()
    hint = rules.template.part("Risks").hint
    placeholder = _section_of(example, "Risks", f"\n_{hint}_\n\n")
    commented = _section_of(example, "Risks", "\n<!-- ask payments about their risks -->\n\n")
    both = _section_of(example, "Risks", f"\n_{hint}_\n\nPayments sees no new calls.\n\n")
    deeper = _section_of(example, "Risks", "\n### Capacity\n\nThe load test found no change.\n\n")

    def risks(text):
        result = check(text, rules, "x.md")
        return next(s.state for s in result.sections if s.title == "Risks"), [str(f) for f in result.findings]

    line = example.splitlines().index("## Risks") + 1
    assert risks(placeholder) == (State.PLACEHOLDER, [f"Risks (line {line}): still the template's text; {hint}"])
    assert risks(commented) == (State.EMPTY, [f"Risks (line {line}): empty; {hint}"])
    assert risks(both) == (State.FILLED, [])
    assert risks(deeper) == (State.FILLED, [])  # a sub-heading of the team's own belongs to the section above it


def test_a_missing_section_names_the_heading_to_add_and_what_to_write(rules):
    text = _section_of(EXAMPLE.read_text(), "Rollback plan", "").replace("## Rollback plan\n", "")
    (finding,) = check(text, rules, "x.md").findings
    assert (finding.section, finding.line) == ("Rollback plan", None)
    assert finding.problem == "missing: add a `## Rollback plan` heading"
    assert finding.hint == rules.template.part("Rollback plan").hint


def test_headings_match_with_numbers_colons_and_case(rules):
    text = EXAMPLE.read_text().replace("## Communications", "## 1.0 communications:")
    assert check(text, rules, "x.md").ok


def test_unticked_items_are_open_with_their_line(rules):
    example = EXAMPLE.read_text()
    text = example.replace("- [x] 3.3 ", "- [ ] 3.3 ").replace("- [x] 5.2 ", "- [ ] 5.2 ")
    result = check(text, rules, "x.md")
    lines = example.splitlines()
    expected = [("Incident management", "3.3", next(n for n, line in enumerate(lines, 1) if "3.3" in line)),
                ("Stakeholder awareness", "5.2", next(n for n, line in enumerate(lines, 1) if "5.2" in line))]
    assert [(f.section, f.item, f.line) for f in result.findings] == expected
    assert result.findings[0].problem.startswith("not ticked: The rollback was rehearsed")
    assert "N/A:" in result.findings[0].hint
    assert next(s.state for s in result.sections if s.title == "Incident management") is State.OPEN


def test_not_applicable_needs_a_reason_and_then_counts_as_done_ticked_or_not(rules):
    example = EXAMPLE.read_text()
    unticked = example.replace("- [x] 1.3 ", "- [ ] 1.3 ")
    assert check(unticked, rules, "x.md").ok
    no_reason = re.sub(r"N/A: customers see no\n  change, so there is nothing to announce\.", "N/A:", example)
    (finding,) = check(no_reason, rules, "x.md").findings
    assert (finding.item, finding.problem) == ("1.3", "marked N/A without a reason")
    lowercase = example.replace("- [x] 5.1 The product owner", "- [ ] 5.1 n/a: no product owner, a lab shop; The")
    assert check(lowercase, rules, "x.md").ok


def test_a_deleted_item_is_reported_as_gone_and_an_added_one_is_judged_too(rules):
    example = EXAMPLE.read_text()
    text = re.sub(r"^- \[x\] 3\.4 .*\n", "", example, flags=re.M)
    text = text.replace("- [x] 5.3 ", "- [ ] Payments' on-call knows the date.\n- [x] 5.3 ")
    result = check(text, rules, "x.md")
    assert [(f.section, f.item, f.problem.split(":")[0]) for f in result.findings] == [
        ("Incident management", "3.4", "item 3.4 is gone"), ("Stakeholder awareness", "", "not ticked")]


def _bad(text: str, tmp_path, name: str = "review.md"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    with pytest.raises(InvalidInput) as error:
        review(path, load_rules())
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    return error.value


@pytest.mark.parametrize("text, field, words", [
    ("# Release\n\n## Description\n\nText.\n", "front matter", "missing: start the file with a `---` line"),
    ("---\nservice: shop\n## Description\n", "front matter", "no closing `---`"),
    ("---\n- shop\n---\n## Description\n", "front matter", "expected `service:`"),
    (_front("platinum") + "## Description\n", "class", "unknown class 'platinum'; one of gold, silver, bronze"),
    ("---\nservice: shop\nrelease: 1.1.0\n---\n## Description\n", "class", "missing: one of gold, silver, bronze"),
    ("---\nservice: shop\nclass: gold\n---\n## Description\n", "release", "missing"),
    (_front(release="2.0") + "## Description\n", "release", 'write it in quotes: release: "2.0"'),
    (_front(owner="shop-team") + "## Description\n", "owner", "unknown field"),
    (_front(plan="bigbang") + "## Description\n", "plan", "no release plan 'bigbang' in releases/"),
    (_front() + "Just a paragraph, no headings.\n", "sections", "not a readiness review"),
    (_front() + "## Risks\n\nOne.\n\n## 5.0 Risks\n\nTwo.\n", "Risks", "appears twice (lines 6 and 10)"),
])
def test_input_that_is_not_a_review_is_refused_naming_the_file_and_field(tmp_path, text, field, words):
    error = _bad(text, tmp_path)
    assert error.field == field and words in error.problem, error


def test_the_front_matter_error_gives_the_line_of_the_field(tmp_path):
    error = _bad(_front(plan="bigbang") + "## Description\n", tmp_path)
    assert error.source == f"{tmp_path / 'review.md'}:5"


def test_broken_yaml_binary_files_and_missing_files_are_refused(tmp_path):
    error = _bad("---\nservice: [shop\n---\n## Description\n", tmp_path)
    assert "not valid YAML" in error.problem and re.search(r"review\.md:\d+:\d+$", error.source)
    assert _bad(b"\x89PNG\r\n\x1a\n\x00\x00\x00", tmp_path, "diagram.png").problem.startswith("not a text file")
    with pytest.raises(InvalidInput) as missing:
        review(tmp_path / "nope.md")
    assert str(missing.value) == f"{tmp_path / 'nope.md'}: file: no such file"


def test_a_class_naming_a_heading_the_template_lacks_is_refused(rules, tmp_path):
    with pytest.raises(InvalidInput) as error:
        parse_classes({"classes": {"tin": {"meaning": "tiny", "required": ["Description", "Poetry"]}}},
                      rules.template, "classes.yml")
    assert error.value.field == "classes.tin.required[1]" and "'Poetry' is not a heading" in error.value.problem
    with pytest.raises(InvalidInput) as missing:
        load_rules(ContentPaths(tmp_path))
    assert missing.value.source.endswith("review-template.md") and missing.value.problem == "no such file"


def test_cli_review_is_awareness_exits_0_unless_strict_and_2_for_bad_input(tmp_path, capsys):
    from kit.cli import main

    assert main(["readiness", "review", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert AWARENESS in out and "nothing open for a silver release" in out
    assert main(["readiness", "review", str(TEMPLATE)]) == 0
    out = capsys.readouterr().out
    assert "20 open for a silver release:" in out and "  Risks (line " in out and AWARENESS in out
    assert main(["readiness", "review", "--strict", str(TEMPLATE)]) == 1
    assert main(["readiness", "review", "--strict", str(EXAMPLE)]) == 0
    capsys.readouterr()
    bad = tmp_path / "bad.md"
    bad.write_text(_front("platinum") + "## Description\n")
    assert main(["readiness", "review", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kit readiness: {bad}:4: class: unknown class 'platinum'") and err.count("\n") == 1

