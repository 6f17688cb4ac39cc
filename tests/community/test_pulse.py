"""The team pulse: the questionnaire as the paper scores it (items 1, 3 and 5 reversed), the floor (4 answers are
not reported, 5 are), nothing in any output that tells one person's answers from another's, bad round files
refused naming their field, and `kit cop pulse add|show|questions`."""

from __future__ import annotations

import io
import random
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from kit.cli import main
from kit.community import pulse
from kit.config import CONTENT
from kit.errors import InvalidInput

DAY = date(2026, 11, 20)
SAFEST = (1, 7, 1, 7, 1, 7, 7)  # strongly disagrees with every statement against safety, agrees with the rest


def test_the_questionnaire_is_edmondsons_seven_items():
    q = pulse.questionnaire()
    assert q.id == "edmondson-1999" and "Administrative Science Quarterly 44(2):350-383" in q.citation
    assert (q.minimum, q.maximum, len(q.items)) == (1, 7, 7)
    assert [item.number for item in q.items if item.reverse] == [1, 3, 5]


def test_reverse_scoring():
    assert pulse.scored(SAFEST) == (7,) * 7 and pulse.score(SAFEST) == 7.0
    assert pulse.score((7, 1, 7, 1, 7, 1, 1)) == 1.0
    assert pulse.scored((2, 6, 1, 6, 2, 7, 6)) == (6, 6, 7, 6, 6, 7, 6)
    assert pulse.score((2, 6, 1, 6, 2, 7, 6)) == pytest.approx(44 / 7)
    assert pulse.scored((4,) * 7) == (4,) * 7  # the middle of the scale stays where it is
    with pytest.raises(InvalidInput, match=r"^answers: has 6 answers; the questionnaire has 7 items"):
        pulse.scored((4,) * 6)
    with pytest.raises(InvalidInput, match=r"^answers\[3\]: 0 is not on the scale 1 \(strongly disagree\) to 7"):
        pulse.scored((4, 4, 4, 0, 4, 4, 4))


def _round(sets, team: str = "mob-a") -> pulse.PulseRound:
    return pulse.PulseRound(team, DAY, tuple(tuple(s) for s in sets), f"community/pulse/{team}/{DAY}.yaml")


FIVE = [(2, 6, 1, 6, 2, 7, 6), (1, 7, 2, 5, 1, 6, 7), (3, 5, 3, 4, 2, 5, 5), (2, 6, 1, 7, 3, 6, 6),
        (6, 2, 5, 2, 6, 3, 2)]


def test_four_answers_are_not_reported_five_are():
    four, five = pulse.report([_round(FIVE[:4])])[0], pulse.report([_round(FIVE)])[0]
    assert not four.reported and four.score is None and four.items is None
    assert str(four) == "mob-a, 2026-11-20: not enough answers to report (4 of the 5 needed)"
    assert five.reported and five.answers == 5
    # item 1 reversed: 8 - (2, 1, 3, 2, 6) = (6, 7, 5, 6, 2), mean 5.2; item 2 as answered: mean 5.2
    assert five.items[:2] == pytest.approx((5.2, 5.2))
    assert five.score == pytest.approx(sum(pulse.score(s) for s in FIVE) / 5)
    assert str(five) == f"mob-a, 2026-11-20: {five.score:.1f} of 7 (5 answers)"
    assert not pulse.report([_round(FIVE)], floor=6)[0].reported  # the floor is a parameter
    with pytest.raises(InvalidInput, match=r"^floor: 2 would let answers be traced to a person"):
        pulse.report([_round(FIVE)], floor=2)


def test_no_persons_answers_can_be_recovered_from_what_is_shown():
    """Shuffling each item's answers among the people leaves every output as it was: what is shown depends on each
    item's answers as a whole, never on whose answer went with whose, so no answer set can be read back."""
    shuffled, rng = [list(s) for s in FIVE], random.Random(16)
    for item in range(7):
        column = [s[item] for s in FIVE]
        rng.shuffle(column)
        for person, value in zip(shuffled, column):
            person[item] = value
    assert sorted(map(tuple, shuffled)) != sorted(FIVE)  # the answer sets really differ
    original, mixed = pulse.report([_round(FIVE)]), pulse.report([_round(shuffled)])
    assert original == mixed and str(original[0]) == str(mixed[0])
    assert "answers=" not in repr(_round(FIVE))  # a round's repr in a notebook shows no answer set


def _community(tmp_path: Path) -> Path:
    for name in ("solutions", "drills", "runbooks"):
        (tmp_path / name).symlink_to(CONTENT.root / name)
    shutil.copytree(CONTENT.community, tmp_path / "community")
    return tmp_path / "community"


def test_add_keeps_every_answer_set_and_nothing_else(tmp_path):
    community = tmp_path / "community"
    for answers in FIVE:
        kept = pulse.add("mob-a", answers, DAY, community, teams=["mob-a", "mob-b"])
    assert sorted(kept.answers) == sorted(FIVE) and kept.source == "community/pulse/mob-a/2026-11-20.yaml"
    saved = yaml.safe_load((community / "pulse" / "mob-a" / "2026-11-20.yaml").read_text())
    assert set(saved) == {"questionnaire", "answers"} and sorted(map(tuple, saved["answers"])) == sorted(FIVE)
    assert pulse.load(community, ["mob-a"]) == (kept,)
    with pytest.raises(InvalidInput, match=r"^team: 'mob-z' is not a team \(no community/teams/mob-z.yaml\)"):
        pulse.add("mob-z", FIVE[0], DAY, community, teams=["mob-a"])
    with pytest.raises(InvalidInput, match=r"^answers\[6\]: 8 is not on the scale"):
        pulse.add("mob-a", (1, 2, 3, 4, 5, 6, 8), DAY, community)
    assert len(pulse.load(community)[0].answers) == 5  # a refused set left the round as it was


ROUND = "questionnaire: edmondson-1999\nanswers:\n  - [2, 6, 1, 6, 2, 7, 6]\n"

BAD = [
    ("mob-a/2026-11-20.yaml", ROUND + "  - [2, 6, 1, 6, 2, 7]\n", "answers[1]", "has 6 answers; the questionnaire"),
    ("mob-a/2026-11-20.yaml", ROUND + "  - [2, 6, 9, 6, 2, 7, 6]\n", "answers[1][2]", "9 is not on the scale"),
    ("mob-a/2026-11-20.yaml", ROUND + "  - [2, 6, '5', 6, 2, 7, 6]\n", "answers[1][2]", "integer"),
    ("mob-a/2026-11-20.yaml", ROUND + "name: amara\n", "name", "is not a known field"),
    ("mob-a/2026-11-20.yaml", "questionnaire: gallup-12\nanswers: []\n", "questionnaire",
     "'gallup-12' is not the questionnaire the kit asks (edmondson-1999)"),
    ("mob-a/2026-11-20.yaml", "answers: []\n", "questionnaire", "required"),
    ("mob-a/2026-11-20.yaml", "questionnaire: [edmondson\n", "", "not valid YAML"),
    ("mob-a/last-friday.yaml", ROUND, "", "'last-friday' is not the round's date"),
    ("mob-z/2026-11-20.yaml", ROUND, "", "'mob-z' is not a team (no community/teams/mob-z.yaml)"),
]


@pytest.mark.parametrize(("name", "text", "field", "problem"), BAD, ids=[f"{b[0]}:{b[2] or b[3]}" for b in BAD])
def test_bad_round_files_are_refused_naming_the_field(tmp_path, name, text, field, problem):
    path = tmp_path / "community" / "pulse" / name
    path.parent.mkdir(parents=True)
    path.write_text(text)
    with pytest.raises(InvalidInput) as caught:
        pulse.load(tmp_path / "community", ["mob-a", "mob-b"])
    assert caught.value.field == field and problem in caught.value.problem
    assert str(caught.value).startswith(f"community/pulse/{name.split('/')[0]}")


def test_kit_cop_pulse(tmp_path, capsys, monkeypatch):
    community = str(_community(tmp_path))
    assert main(["cop", "pulse", "questions"]) == 0
    assert "1. When someone on this team gets something wrong" in capsys.readouterr().out
    for answers in FIVE[:3]:
        assert main(["cop", "pulse", "add", "--team", "mob-a", "--date", str(DAY), "--folder", community,
                     "--answers", ",".join(map(str, answers))]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("9\n6\n2\n5\n3\n2\n6\n2\n"))  # 9 is off the scale: asked again
    assert main(["cop", "pulse", "add", "--team", "mob-a", "--date", str(DAY), "--folder", community]) == 0
    out = capsys.readouterr().out
    assert "recorded one anonymous answer set in community/pulse/mob-a/2026-11-20.yaml (4 in this round)" in out
    assert "a whole number from 1 to 7, please" in out
    assert main(["cop", "pulse", "show", "--folder", community]) == 0
    assert capsys.readouterr().out == "mob-a, 2026-11-20: not enough answers to report (4 of the 5 needed)\n"
    assert main(["cop", "pulse", "add", "--team", "mob-a", "--date", str(DAY), "--folder", community,
                 "--answers", "2,6,1,6,2,7,6"]) == 0
    assert sorted(pulse.load(Path(community))[0].answers) == sorted([*FIVE[:3], (6, 2, 5, 3, 2, 6, 2),
                                                                     (2, 6, 1, 6, 2, 7, 6)])
    capsys.readouterr()
    assert main(["cop", "pulse", "show", "--folder", community]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("mob-a, 2026-11-20: ") and "(5 answers)" in shown and "item 7: " in shown
    monkeypatch.setattr("sys.stdin", io.StringIO("4\n4\n"))
    assert main(["cop", "pulse", "add", "--team", "mob-b", "--folder", community]) == 1  # ran out of answers
    assert "nothing was recorded" in capsys.readouterr().err
    assert not list((Path(community) / "pulse").glob("mob-b/*.yaml"))
