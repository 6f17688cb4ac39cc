"""The on-call rotation: the team's file and the broken lab example, every check passing and failing, time zones
and daylight saving, overrides and exclusions, load errors that name the event and property, and the CLI."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from kit.cli import main
from kit.config import CONTENT
from kit.errors import InvalidInput
from kit.ownership import oncall

BERLIN = ZoneInfo("Europe/Berlin")
TEAM = CONTENT.oncall / "shop-team.ics"
BROKEN = CONTENT.oncall / "examples" / "gaps-and-overload.ics"


def at(text: str) -> datetime:
    """A Berlin wall-clock time, as the rotations here hand over."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def shift(who: str, role: str, start: str, *, uid: str = "", end: str = "", duration: str = "P1W",
          rrule: str = "FREQ=WEEKLY;INTERVAL=2", extra: str = "") -> str:
    """One VEVENT: ``start``/``end`` as iCalendar local times in Europe/Berlin (20260316T100000)."""
    lines = ["BEGIN:VEVENT", f"UID:{uid or f'{role}-{who}'}@test", "DTSTAMP:20260101T000000Z",
             f"SUMMARY:{role} {who}", f"DTSTART;TZID=Europe/Berlin:{start}",
             f"DTEND;TZID=Europe/Berlin:{end}" if end else f"DURATION:{duration}",
             *([f"RRULE:{rrule}"] if rrule else []), f"CATEGORIES:{role.upper()}",
             f"ATTENDEE;CN={who}:mailto:{who.lower()}@example.org", *filter(None, extra.split("\n")), "END:VEVENT"]
    return "\r\n".join(lines) + "\r\n"


def ics(*events: str, escalate: str | None = "PT15M") -> str:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    return head + (f"X-DOJO-ESCALATE-AFTER:{escalate}\r\n" if escalate else "") + "".join(events) + "END:VCALENDAR\r\n"


def pair(*, ana_end: str = "", ben_end: str = "", exdate: str = "") -> str:
    """Ana and Ben swap levels every week from Monday 2026-03-16 10:00; Ben's first primary week spans the spring
    DST change (Sunday 03-29)."""
    return ics(shift("Ana", "primary", "20260316T100000", end=ana_end, extra=exdate),
               shift("Ben", "primary", "20260323T100000", end=ben_end),
               shift("Ben", "secondary", "20260316T100000"), shift("Ana", "secondary", "20260323T100000"))


def test_the_teams_rotation_passes_every_check_across_both_dst_changes():
    rotation = oncall.load(TEAM)
    assert (rotation.team, rotation.name, rotation.escalate_after) == ("shop-team", "Shop team on call",
                                                                       timedelta(minutes=15))
    for start in (at("2026-03-02T00:00"), at("2026-10-05T00:00")):
        report = oncall.check(rotation, start=start)
        assert report.ok, str(report)
        assert report.load_end == start + timedelta(weeks=16)  # whole 8-week cycles, not 12; by Berlin's clock
        assert list(report.shifts.columns) == oncall.SHIFT_COLUMNS
        assert list(report.load.columns) == oncall.LOAD_COLUMNS and len(report.load) == 8
        assert (report.load["share"] == 0.25).all()
    spring = oncall.check(rotation, start=at("2026-03-02T00:00")).shifts
    over_dst = spring[spring["start"] == at("2026-03-23T10:00")]
    assert set(over_dst["hours"]) == {167.0}  # a week of wall clock, an hour short in real time


def test_the_lab_example_has_gaps_an_overlap_and_one_overloaded_engineer():
    report = oncall.check(oncall.load(BROKEN), start=at("2026-12-01T00:00"))
    gaps = [f for f in report.failed("coverage") if f.problem.startswith("nobody")]
    overlaps = [f for f in report.failed("coverage") if not f.problem.startswith("nobody")]
    assert [(f.subject, f.start, f.end) for f in gaps] == [
        ("primary", at("2027-01-02T10:00"), at("2027-01-04T10:00")),  # a five-day "week"
        ("secondary", at("2027-01-18T10:00"), at("2027-01-18T11:00"))]  # a shift written in UTC
    assert [(f.subject, f.start, f.end) for f in overlaps] == [("secondary", at("2027-01-25T10:00"),
                                                                at("2027-01-25T11:00"))]
    assert "Farah Haddad and Goran Petrovic are both secondary" in overlaps[0].problem
    [load] = report.failed("load")
    assert load.subject == "Goran Petrovic" and "37.5%" in load.problem and "Chen Wei" in load.fix
    assert not report.failed("distinct") and not report.failed("engineers") and not report.failed("escalation")


def test_on_call_at_follows_the_rotation_over_dst_and_a_swapped_week():
    rotation = oncall.load(TEAM)
    def names(when: datetime) -> tuple[str, ...]:
        return tuple(e.name for e in rotation.on_call_at(when))

    assert names(at("2026-03-30T09:59")) == ("Dana Levi", "Chen Wei")  # the Monday after the change, before 10:00
    assert names(at("2026-03-30T10:00")) == ("Emeka Obi", "Dana Levi")
    assert names(at("2026-06-23T03:00")) == ("Emeka Obi", "Hana Sato")  # Amara's week, swapped with Emeka
    assert names(at("2026-07-21T03:00")) == ("Amara Okafor", "Dana Levi")  # and his week, to Amara
    assert rotation.on_call_at(datetime(2026, 7, 21, 1, tzinfo=timezone.utc)).primary.email == "amara@shop.example"
    with pytest.raises(InvalidInput, match="when: .* no time zone"):
        rotation.on_call_at(datetime(2026, 7, 21))


def test_a_weekly_hand_over_across_dst_opens_no_gap_with_dtend_or_duration():
    for ben_end in ("", "20260330T100000"):
        report = oncall.check(oncall.parse(pair(ben_end=ben_end)), start=at("2026-03-16T10:00"), weeks=6,
                              min_engineers=2, max_share=1)
        assert report.ok, str(report)


def test_a_hand_over_written_in_utc_opens_a_gap_and_an_overlap():
    text = pair().replace("DTSTART;TZID=Europe/Berlin:20260323T100000\r\nDURATION:P1W\r\nRRULE:FREQ=WEEKLY;"
                          "INTERVAL=2\r\nCATEGORIES:PRIMARY", "DTSTART:20260323T100000Z\r\nDURATION:P1W\r\n"
                          "RRULE:FREQ=WEEKLY;INTERVAL=2\r\nCATEGORIES:PRIMARY")
    findings = oncall.check(oncall.parse(text), start=at("2026-03-16T10:00"), weeks=4.5).failed("coverage")
    assert [(f.problem.split()[0], f.start, f.end) for f in findings] == [
        ("nobody", at("2026-03-23T10:00"), at("2026-03-23T11:00")),  # CET: 10:00 UTC is 11:00 in Berlin
        ("Ana", at("2026-03-30T10:00"), at("2026-03-30T12:00")),  # CEST: 12:00, so two hours twice over
        ("nobody", at("2026-04-06T10:00"), at("2026-04-06T12:00")),
        ("Ana", at("2026-04-13T10:00"), at("2026-04-13T12:00"))]


def test_an_excluded_week_is_a_gap_and_an_override_swaps_it():
    excluded = pair(exdate="EXDATE;TZID=Europe/Berlin:20260330T100000")
    [gap] = oncall.check(oncall.parse(excluded), start=at("2026-03-16T10:00"), weeks=6).failed("coverage")
    assert (gap.subject, gap.start, gap.end) == ("primary", at("2026-03-30T10:00"), at("2026-04-06T10:00"))
    assert oncall.parse(excluded).on_call_at(at("2026-04-01T12:00")).primary is None
    cara = shift("Cara", "primary", "20260330T100000", uid="primary-Ana", rrule="",
                 extra="RECURRENCE-ID;TZID=Europe/Berlin:20260330T100000")
    swapped = oncall.parse(pair().replace("END:VCALENDAR", cara + "END:VCALENDAR"))
    report = oncall.check(swapped, start=at("2026-03-16T10:00"), weeks=6, min_engineers=3, max_share=1)
    assert report.ok, str(report)
    assert swapped.on_call_at(at("2026-04-01T12:00")).primary.name == "Cara"
    assert swapped.on_call_at(at("2026-04-15T12:00")).primary.name == "Ana"  # the series goes on


def test_overlapping_primaries_are_reported_and_the_later_one_answers():
    text = pair(ana_end="20260323T120000")
    [overlap] = oncall.check(oncall.parse(text), start=at("2026-03-16T10:00"), weeks=2).failed("coverage")
    assert (overlap.start, overlap.end) == (at("2026-03-23T10:00"), at("2026-03-23T12:00"))
    assert "Ana and Ben are both primary" in overlap.problem and "DTEND = next DTSTART" in overlap.fix
    assert oncall.parse(text).on_call_at(at("2026-03-23T11:00")).primary.name == "Ben"


def test_the_same_engineer_on_both_levels_is_reported_with_when():
    text = ics(shift("Ana", "primary", "20260316T100000"), shift("Ben", "primary", "20260323T100000"),
               shift("Ana", "secondary", "20260316T100000", uid="secondary-1"),
               shift("Ana", "secondary", "20260323T100000", uid="secondary-2"))
    report = oncall.check(oncall.parse(text), start=at("2026-03-16T10:00"), weeks=1)
    [both] = report.failed("distinct")
    assert (both.subject, both.start, both.end) == ("Ana", at("2026-03-16T10:00"), at("2026-03-23T10:00"))
    assert not oncall.check(oncall.parse(pair()), start=at("2026-03-16T10:00"), weeks=1).failed("distinct")


def test_engineers_and_load_follow_the_sre_book_and_take_parameters():
    report = oncall.check(oncall.parse(pair()), start=at("2026-03-16T10:00"), weeks=4)
    [few] = report.failed("engineers")
    assert "2 engineers take shifts, fewer than 8" in few.problem and "add 6 engineer(s)" in few.fix
    assert [f.subject for f in report.failed("load")] == ["Ana", "Ben"]  # each on call all the time
    relaxed = oncall.check(oncall.parse(pair()), start=at("2026-03-16T10:00"), weeks=4, min_engineers=2, max_share=1)
    assert relaxed.ok
    assert oncall.SINGLE_SITE_ENGINEERS == 8 and oncall.DUAL_SITE_ENGINEERS_PER_SITE == 6
    assert oncall.MAX_ON_CALL_SHARE == 0.25


@pytest.mark.parametrize("escalate, problem", [
    (None, "does not say when"), ("PT1M", "shorter than the 5 min"), ("PT2H", "longer than 30 min")])
def test_the_escalation_step_must_exist_and_be_sane(escalate, problem):
    report = oncall.check(oncall.parse(ics(shift("Ana", "primary", "20260316T100000"), escalate=escalate)),
                          start=at("2026-03-16T10:00"), weeks=1)
    [finding] = report.failed("escalation")
    assert finding.subject == "X-DOJO-ESCALATE-AFTER" and problem in finding.problem
    assert "X-DOJO-ESCALATE-AFTER" in finding.fix
    assert not oncall.escalation(timedelta(minutes=15))


BAD_EVENTS = [
    ("ATTENDEE;CN=Ana:mailto:ana@example.org\r\n", "", 'event "primary Ana" ATTENDEE: missing'),
    ("ATTENDEE;CN=Ana:mailto:ana@example.org\r\n",
     "ATTENDEE;CN=Ana:mailto:ana@example.org\r\nATTENDEE;CN=Ben:mailto:ben@example.org\r\n", "2 engineers on one"),
    ("ATTENDEE;CN=Ana:mailto:ana@example.org\r\n", "ATTENDEE;CN=Ana:ana@example.org\r\n", "not a mailto: address"),
    ("CATEGORIES:PRIMARY\r\n", "", '"primary Ana" CATEGORIES: names no level'),
    ("CATEGORIES:PRIMARY\r\n", "CATEGORIES:PRIMARY,SECONDARY\r\n", "names both levels"),
    ("DTSTART;TZID=Europe/Berlin:20260316T100000", "DTSTART:20260316T100000", "DTSTART: a floating time"),
    ("DTSTART;TZID=Europe/Berlin:20260316T100000", "DTSTART;VALUE=DATE:20260316", "DTSTART: a whole day"),
    ("DTSTART;TZID=Europe/Berlin:", "DTSTART;TZID=Mars/Olympus:", "unknown time zone 'Mars/Olympus'"),
    ("FREQ=WEEKLY;INTERVAL=2", "FREQ=WEEKY", "RRULE: Expected frequency"),
    ("DURATION:P1W\r\n", "", "DTEND: missing"),
    ("DURATION:P1W\r\n", "DTEND;TZID=Europe/Berlin:20260316T090000\r\n", "DTEND: the shift ends before it starts"),
]


@pytest.mark.parametrize("old, new, message", BAD_EVENTS)
def test_a_bad_shift_is_refused_naming_the_file_event_and_property(tmp_path, old, new, message):
    path = tmp_path / "team.ics"
    path.write_text(ics(shift("Ana", "primary", "20260316T100000")).replace(old, new, 1), newline="")
    with pytest.raises(InvalidInput) as refused:
        oncall.load(path)
    assert str(refused.value).startswith(f"{path}: ") and message in str(refused.value)


@pytest.mark.parametrize("text, message", [
    ("hello", "VCALENDAR: not an iCalendar file"),
    (ics(), "VEVENT: no shifts"),
    (ics(shift("Ana", "primary", "20260316T100000"), escalate="15 minutes"), "X-DOJO-ESCALATE-AFTER: '15 minutes'"),
])
def test_a_bad_calendar_is_refused_naming_the_property(text, message):
    with pytest.raises(InvalidInput, match=message):
        oncall.parse(text, source="team.ics")


def test_check_refuses_a_window_without_time_zone_or_length():
    rotation = oncall.parse(pair())
    with pytest.raises(InvalidInput, match="start: .* no time zone"):
        oncall.check(rotation, start=datetime(2026, 3, 16))
    with pytest.raises(InvalidInput, match="weeks: must be positive"):
        oncall.check(rotation, weeks=0)


def test_cli_check_exits_0_1_or_2(tmp_path, capsys):
    assert main(["oncall", "check", "shop-team", "--from", "2026-12-01T00:00+01:00"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("oncall/shop-team.ics: shop-team, 8 engineers, escalation after 15 min")
    assert "(12 weeks; load over 16 weeks)" in out
    assert main(["oncall", "check", str(BROKEN), "--weeks", "8", "--from", "2026-12-01T00:00+01:00"]) == 1
    out = capsys.readouterr().out
    assert "  coverage   3 finding(s)" in out and "- load: Goran Petrovic: on call 37.5%" in out
    assert main(["oncall", "check", str(BROKEN), "--min-engineers", "9", "--from", "2026-12-01T00:00+01:00"]) == 1
    assert "- engineers: rotation: 8 engineers take shifts, fewer than 9" in capsys.readouterr().out
    bad = tmp_path / "bad.ics"
    bad.write_text(ics(shift("Ana", "primary", "20260316T100000")).replace("CATEGORIES:PRIMARY\r\n", ""))
    assert main(["oncall", "check", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == (f'kit oncall: {bad}: event "primary Ana" CATEGORIES: names no level: '
                                               "write CATEGORIES:PRIMARY or CATEGORIES:SECONDARY")
    assert main(["oncall", "check", "no-such-team"]) == 2
    assert "no-such-team: no such rotation (teams in oncall/: shop-team)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["oncall", "check", "--weeks", "0"])
    assert usage.value.code == 2


def test_cli_now_says_who_is_on_call(tmp_path, capsys):
    assert main(["oncall", "now", "--at", "2026-03-30T10:00+02:00"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Shop team on call at Mon 2026-03-30 10:00 CEST:", "  primary   Emeka Obi <emeka@shop.example>",
        "  secondary Dana Levi <dana@shop.example>",
        "  a page not acknowledged within 15 min goes to the secondary"]
    always = tmp_path / "always.ics"  # whoever runs this, whenever: daily shifts since 2020 cover now
    always.write_text(ics(shift("Ana", "primary", "20200101T000000", duration="P1D", rrule="FREQ=DAILY")))
    assert main(["oncall", "now", str(always)]) == 0
    out = capsys.readouterr().out
    assert "  primary   Ana <ana@example.org>" in out and "  secondary nobody (a gap in the rotation)" in out


def test_cli_help_names_the_defaults_check_applies(capsys):
    with pytest.raises(SystemExit):
        main(["oncall", "check", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"(default {oncall.DEFAULT_WEEKS}, a quarter)" in help_text
    assert f"(default {oncall.SINGLE_SITE_ENGINEERS}, the SRE book's minimum" in help_text


def test_the_timeline_shows_every_engineer_and_shades_each_gap_or_overlap(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from kit import plots

    report = oncall.check(oncall.load(BROKEN), start=at("2026-12-01T00:00"), weeks=8)
    ax = plots.oncall_timeline(report)
    assert [label.get_text() for label in ax.get_yticklabels()] == sorted(report.load["engineer"])
    shaded = [p for p in ax.patches if p.get_facecolor()[:3] == matplotlib.colors.to_rgb("crimson")]
    assert len(shaded) == len(report.failed("coverage")) == 3
    ax.figure.savefig(tmp_path / "rotation.png")
    assert (tmp_path / "rotation.png").stat().st_size > 5000
    matplotlib.pyplot.close(ax.figure)


def test_every_component_s_rotation_is_its_owning_team_s_members():
    from kit.ownership import catalog

    entries = catalog.load()
    assert entries.components
    for component in entries.components:
        rotation = oncall.load(CONTENT.root / component.rotation)
        team = entries.get(component.owner)
        assert rotation.team == team.name
        load = oncall.check(rotation, start=at("2026-12-01T00:00")).load
        members = {(user.display_name, user.email) for user in map(entries.get, team.members)}
        assert set(zip(load["engineer"], load["email"])) == members
