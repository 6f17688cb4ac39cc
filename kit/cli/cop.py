"""`kit cop check|list|add`: the community of practice's records in community/ (kit.community.records), validated,
listed (key results with their computed progress), and added to without hand-editing YAML. `kit cop health`: the
community's health report (kit.community.healthreport); `kit cop pulse`: the anonymous team pulse
(kit.community.pulse)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import date
from pathlib import Path

from . import command, plain_number, text_table

_LISTED = ("members", "teams", "sessions", "shares", "experiments", "okrs", "canvas")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-03") from None


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _rotation(text: str) -> dict[str, str | list[str]]:
    """``driver=amara,navigator=bruno,researcher=chen+dana`` -> {"driver": "amara", ..., "researcher": [...]}."""
    turn: dict[str, str | list[str]] = {}
    for part in _names(text):
        role, equals, who = part.partition("=")
        if not equals or not who.strip():
            raise argparse.ArgumentTypeError(f"{part!r} is not ROLE=HANDLE (e.g. driver=amara, researcher=chen+dana)")
        holders = [h.strip() for h in who.split("+") if h.strip()]
        turn[role.strip()] = holders[0] if len(holders) == 1 else holders
    return turn


def _folder(p: argparse.ArgumentParser) -> None:
    p.add_argument("--folder", default=None, metavar="DIR",
                   help="the community's records (default: the repository's community/)")


def _cop_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", required=True)
    c = actions.add_parser("check", help="validate every record and its references (exit 2 naming the file and "
                                         "field), then report what the community still lacks (exit 1)")
    _folder(c)
    s = actions.add_parser("list", help="a table of one kind of record; okrs with each key result's progress")
    s.add_argument("kind", choices=_LISTED, metavar="KIND", help=f"one of {', '.join(_LISTED)}")
    s.add_argument("--json", action="store_true", help="the records as JSON instead of a table")
    s.add_argument("--today", type=_day, default=None, help="measure key results as of this day (default today)")
    _folder(s)
    a = actions.add_parser("add", help="add a member, team, session, share or experiment as a new file")
    kinds = a.add_subparsers(dest="kind", required=True)

    m = kinds.add_parser("member", help="a new member: community/members/HANDLE.yaml")
    m.add_argument("handle", help="how other records name them, e.g. amara")
    m.add_argument("--name", required=True, help="their name, e.g. 'Amara Okafor'")
    m.add_argument("--experience", required=True, choices=("newcomer", "experienced"))
    m.add_argument("--joined", type=_day, default=None, help="the day they joined (default today)")
    m.add_argument("--catalog", default=None, help="their User in the service catalog, when they have one")
    m.add_argument("--email", default=None)
    _folder(m)

    t = kinds.add_parser("team", help="a new mob: community/teams/ID.yaml")
    t.add_argument("id", help="e.g. mob-c")
    t.add_argument("--name", required=True, help="e.g. 'Mob C'")
    t.add_argument("--members", type=_names, required=True, help="member handles, comma-separated")
    t.add_argument("--formed", type=_day, default=None, help="the day it first met (default today)")
    _folder(t)

    s = kinds.add_parser("session", help="a session held: community/sessions/DATE-TEAM-SUBJECT.yaml")
    what = s.add_mutually_exclusive_group(required=True)
    what.add_argument("--lab", help="the lab's folder, e.g. 03-alerting-on-slos")
    what.add_argument("--drill", help="the drill scenario, e.g. payments-down")
    what.add_argument("--ceremony", help="e.g. whats-alarming-you, chaos-day, incident-lunch")
    s.add_argument("--date", type=_day, default=None, help="the day it was held (default today)")
    s.add_argument("--team", default=None, help="the mob that ran it (leave out for the whole community)")
    s.add_argument("--minutes", type=int, required=True, help="how long it ran")
    s.add_argument("--attendees", type=_names, required=True, help="member handles, comma-separated")
    s.add_argument("--rotation", type=_rotation, action="append", default=[], metavar="ROLE=HANDLE,...",
                   help="one turn's roles, e.g. driver=amara,navigator=bruno,researcher=chen+dana; repeat per turn")
    s.add_argument("--drill-run", default=None, help="the drill's run id in the sandbox's drill results")
    s.add_argument("--drill-results", default=None,
                   help="the drill results file holding --drill-run when it is not the sandbox's own (a Chaos Day "
                        "mob's), relative to the repository")
    s.add_argument("--notes", default="")
    s.add_argument("--id", default=None, help="the file's name (default DATE-TEAM-SUBJECT)")
    _folder(s)

    h = kinds.add_parser("share", help="a talk, write-up, runbook or demo: community/shares/DATE-BY-TITLE.yaml")
    h.add_argument("--kind", required=True, choices=("talk", "write-up", "runbook", "demo"), dest="share_kind")
    h.add_argument("--title", required=True)
    h.add_argument("--by", type=_names, required=True, help="member handles, comma-separated")
    h.add_argument("--date", type=_day, default=None, help="the day it was shared (default today)")
    h.add_argument("--session", default=None, help="the session it was shared at (its id)")
    h.add_argument("--link", default=None, help="a URL, or a path in the repository (required for a runbook)")
    h.add_argument("--id", default=None, help="the file's name (default DATE-FIRST_AUTHOR-TITLE)")
    _folder(h)

    e = kinds.add_parser("experiment", help="a Kaizen experiment: community/experiments/ID.yaml")
    e.add_argument("id", help="e.g. rotate-every-7-minutes")
    e.add_argument("--title", required=True)
    e.add_argument("--owners", type=_names, required=True, help="member handles, comma-separated")
    e.add_argument("--team", default=None)
    e.add_argument("--hypothesis", required=True)
    e.add_argument("--change", required=True)
    e.add_argument("--metric", required=True, help="what judges it, e.g. 'median TTA in drills'")
    e.add_argument("--unit", required=True, help="e.g. s")
    e.add_argument("--better", required=True, choices=("lower", "higher"))
    e.add_argument("--before", type=float, required=True)
    e.add_argument("--after", type=float, default=None)
    e.add_argument("--started", type=_day, default=None, help="the day the change began (default today)")
    e.add_argument("--ended", type=_day, default=None)
    e.add_argument("--outcome", default="running", choices=("running", "adopted", "abandoned", "inconclusive"))
    _folder(e)

    hl = actions.add_parser("health", help="community health: members, attendance and retention, rotation fairness, "
                                           "shares, experiments and outcomes per month (the three metric families), "
                                           "skills per member, each team's drills and postmortems beside its pulse")
    hl.add_argument("--html", metavar="OUT", help="also write the report as one static HTML page to OUT")
    hl.add_argument("--plot", metavar="OUT", help="also save its charts to OUT (PNG, SVG or PDF)")
    hl.add_argument("--today", type=_day, default=None, help="the report as of this day (default today)")
    _floor(hl)
    _folder(hl)
    pl = actions.add_parser("pulse", help="the anonymous team pulse (psychological safety, Edmondson 1999): add one "
                                          "answer set, show each team's rounds, or print the questions")
    pulse_actions = pl.add_subparsers(dest="pulse_action", required=True)
    pa = pulse_actions.add_parser("add", help="record one anonymous answer set; asks each question (answers not "
                                              "shown) unless --answers is given")
    pa.add_argument("--team", required=True, help="the mob answered about, e.g. mob-a")
    pa.add_argument("--answers", type=_scores, default=None, metavar="A,B,...",
                    help="one answer per item, in item order, e.g. 2,6,1,6,2,7,6 (`kit cop pulse questions`)")
    pa.add_argument("--date", type=_day, default=None, help="the round's date (default today)")
    _folder(pa)
    ps = pulse_actions.add_parser("show", help="each team's rounds: the team's means, or 'not enough answers to "
                                               "report' below the floor; never an answer set")
    _floor(ps)
    _folder(ps)
    pulse_actions.add_parser("questions", help="the questionnaire: its items, scale, reverse-scored items and source")


def _scores(text: str) -> list[int]:
    try:
        return [int(part) for part in _names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not whole numbers separated by commas, e.g. 2,6,1,6,2,7,6") \
            from None


def _floor(p: argparse.ArgumentParser) -> None:
    p.add_argument("--floor", type=int, default=5, metavar="N",
                   help="answer sets a team pulse round needs before its means are shown (default 5, at least 3)")


def _given(**fields) -> dict:
    """The fields as the record's file holds them: those left out on the command line are not written."""
    return {name: value for name, value in fields.items() if value is not None and value != "" and value != []}


def _entry(args: argparse.Namespace) -> tuple[str, str, dict]:
    from ..community import records

    today = date.today()
    if args.kind == "member":
        return "members", args.handle, _given(name=args.name, joined=args.joined or today,
                                               experience=args.experience, catalog=args.catalog, email=args.email)
    if args.kind == "team":
        return "teams", args.id, _given(name=args.name, members=args.members, formed=args.formed or today)
    if args.kind == "session":
        kind, subject = next((k, getattr(args, k)) for k in ("lab", "drill", "ceremony") if getattr(args, k))
        day = args.date or today
        return "sessions", args.id or records.session_id(day, subject, args.team), _given(
            date=day, kind=kind, subject=subject, team=args.team, minutes=args.minutes, attendees=args.attendees,
            rotations=args.rotation, drill_run=args.drill_run, drill_results=args.drill_results, notes=args.notes)
    if args.kind == "share":
        day = args.date or today
        ident = args.id or f"{day.isoformat()}-{records.slug(args.by[0]) if args.by else 'someone'}-" \
                           f"{records.slug(args.title)}".rstrip("-")
        return "shares", ident, _given(date=day, kind=args.share_kind, title=args.title, by=args.by,
                                       session=args.session, link=args.link)
    return "experiments", args.id, _given(
        title=args.title, owners=args.owners, team=args.team, hypothesis=args.hypothesis, change=args.change,
        metric=args.metric, unit=args.unit, better=args.better, before=args.before, after=args.after,
        started=args.started or today, ended=args.ended, outcome=args.outcome)


@command("cop", "the community of practice's records: check them, list them (OKRs with their progress), add to "
                "them; the community's health and its anonymous team pulse", _cop_arguments)
def _cop(args: argparse.Namespace) -> int:
    from ..community import pulse, records

    if args.action == "health":
        return _health(args)
    if args.action == "pulse":
        return _pulse(args)
    if args.action == "add":
        kind, ident, data = _entry(args)
        added = records.add(kind, ident, data, args.folder)
        print(f"added {added.source}")
        return 0
    loaded = records.load(args.folder)
    if args.action == "list":
        return _list(loaded, args)
    rounds = pulse.load(loaded.folder, [t.id for t in loaded.teams])  # the pulse's files are records too
    findings = records.check(loaded, _catalog_users(loaded.folder))
    for finding in findings:
        print(finding)
    counts = ", ".join(f"{len(loaded.of_kind(kind))} {kind}" for kind in records.KINDS)
    print(f"{loaded.folder.name}/: {counts}, {len(rounds)} pulse rounds, {'a' if loaded.canvas else 'no'} canvas: "
          f"{len(findings)} finding{'' if len(findings) == 1 else 's'}")
    return 1 if findings else 0


def _catalog_users(folder: Path) -> list[str] | None:
    """The User names of the service catalog beside the community's folder; None when there is no catalog."""
    from ..ownership import catalog

    place = folder.parent / "catalog"
    return [user.name for user in catalog.load(place).users] if place.is_dir() else None


def _evidence(folder: Path):
    """What the key results need from the rest of the kit: the sandbox's finished drills and the runbook lint
    (offline, over the repository beside the community's folder)."""
    from ..community.keyresults import Evidence, drill_days
    from ..config import Config
    from ..jsonlines import read
    from ..runbooks import lint

    rows = [row for _, row in read(Config.from_env().paths.drill_results) if isinstance(row, dict)]
    root = folder.parent
    problems = len(lint(live=False, root=root).problems) if (root / "runbooks").is_dir() else None
    return Evidence(drill_days(rows), problems)


def _shown(value) -> str:
    if isinstance(value, (tuple, list)):
        return ", ".join(map(str, value)) or "-"
    return "-" if value is None else plain_number(value)


def _list(loaded, args: argparse.Namespace) -> int:
    if args.kind == "okrs":
        return _okrs(loaded, args)
    if args.kind == "canvas":
        if loaded.canvas is None:
            print(f"{loaded.folder.name}/canvas.yaml: missing")
            return 1
        if args.json:
            print(json.dumps(asdict(loaded.canvas), indent=2, default=str))
        else:
            for name, value in asdict(loaded.canvas).items():
                if name != "source":
                    shown = "; ".join(f"{r['name']} (gives: {r['gives']}; gets: {r['gets']})" for r in value) \
                        if name == "roles" else "; ".join(value) if isinstance(value, tuple) else value
                    print(f"{name}: {shown}")
        return 0
    entries = loaded.of_kind(args.kind)
    if args.json:
        print(json.dumps([asdict(entry) for entry in entries], indent=2, default=str))
        return 0
    columns = {
        "members": ("handle", "name", "joined", "experience", "catalog", "left"),
        "teams": ("id", "name", "members", "formed"),
        "sessions": ("date", "kind", "subject", "team", "minutes", "attendees"),
        "shares": ("date", "kind", "title", "by", "session"),
        "experiments": ("id", "outcome", "metric", "before", "after", "improved", "owners"),
    }[args.kind]
    print(text_table(columns, [tuple(_shown(getattr(entry, c)) for c in columns) for entry in entries])
          if entries else f"no {args.kind} in {loaded.folder.name}/{args.kind}/")
    return 0


def _okrs(loaded, args: argparse.Namespace) -> int:
    from ..community import keyresults
    from ..community.records import METRICS

    evidence = _evidence(loaded.folder)
    today = args.today or date.today()
    measured = [m for okrs in loaded.okrs for m in keyresults.progress(okrs, loaded, evidence, today)]
    if args.json:
        print(json.dumps([{"okrs": m.okrs, "objective": m.objective, **asdict(m.key_result), "measured": m.current,
                           "progress": m.progress, "source": m.source} for m in measured], indent=2))
        return 0
    rows = [(m.okrs, m.key_result.title, "-" if m.current is None else f"{m.current:g}",
             f"{m.key_result.baseline:g} -> {m.key_result.target:g}",
             "-" if m.progress is None else f"{m.progress:.0%}",
             m.key_result.metric or "by hand") for m in measured]
    print(text_table(("period", "key result", "now", "baseline -> target", "progress", "computed from"), rows)
          if rows else f"no OKRs in {loaded.folder.name}/okrs/")
    for metric in sorted({m.key_result.metric for m in measured if m.key_result.metric}):
        print(f"{metric}: {METRICS[metric]}")
    if measured:
        print(f"measured on {today}")
    return 0


def _drill_evidence(loaded) -> tuple[list[dict], dict[str, tuple[str, ...] | None]]:
    """The finished drills (rows of kit.drills' results files) and, per drill (``health.drill_key``), the
    postmortem sections still to write (None when the run has no postmortem file): the sandbox's own, and those
    in each results file a session names (``drill_results``: a Chaos Day mob's sandbox). A file a session names
    that is gone is an InvalidInput naming the session and the field."""
    from ..community.health import drill_key
    from ..config import Config, StatePaths
    from ..drills.postmortem import missing_sections
    from ..errors import InvalidInput
    from ..jsonlines import read

    own = Config.from_env().paths
    files: dict[str | None, StatePaths] = {None: own}
    for session in loaded.sessions:
        if session.drill_results and session.drill_results not in files:
            path = session.results_file(loaded.folder.parent, own.drill_results)
            if not path.is_file():
                raise InvalidInput("drill_results", f"{session.drill_results} does not exist: copy the mob's "
                                   "drills/ folder into the repository and name the copy", source=session.source)
            files[session.drill_results] = Config.from_env({"KIT_STATE_DIR": str(path.parent.parent)}).paths
    rows: list[dict] = []
    postmortems: dict[str, tuple[str, ...] | None] = {}
    for results, paths in files.items():
        for _, row in read(paths.drill_results):
            if not isinstance(row, dict):
                continue
            run = str(row.get("run"))
            rows.append({**row, "results": results} if results else row)
            postmortem = paths.drill_postmortem(run)
            postmortems[drill_key(results, run)] = tuple(missing_sections(postmortem.read_text(encoding="utf-8"))) \
                if postmortem.is_file() else None
    return rows, postmortems


def _health(args: argparse.Namespace) -> int:
    from ..community import healthreport, pulse, records

    loaded = records.load(args.folder)
    rows, postmortems = _drill_evidence(loaded)
    solutions = loaded.folder.parent / "solutions"
    labs = [p.name for p in solutions.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))] \
        if solutions.is_dir() else None
    report = healthreport.health_report(loaded, args.today or date.today(), drills=rows, postmortems=postmortems,
                                        pulse=pulse.load(loaded.folder, [t.id for t in loaded.teams]),
                                        floor=args.floor, labs=labs)
    print(report)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        report.plot().savefig(args.plot, dpi=110, bbox_inches="tight")
        print(f"plot: {args.plot}")
    if args.html:
        from ..atomicfile import write_atomically

        write_atomically(Path(args.html), report.html(), mode=0o644)
        print(f"html: {args.html}")
    return 0


def _pulse(args: argparse.Namespace) -> int:
    from ..community import pulse, records

    q = pulse.questionnaire()
    if args.pulse_action == "questions":
        print(f"{q.title}: {q.citation}\n{q.prompt}\nscale: {q.scale}")
        for item in q.items:
            print(f"{item.number}. {item.text}{'  (reverse-scored)' if item.reverse else ''}")
        return 0
    loaded = records.load(args.folder)
    teams = [t.id for t in loaded.teams]
    if args.pulse_action == "show":
        shown = pulse.report(pulse.load(loaded.folder, teams), args.floor)
        for line in shown:
            print(line)
            if line.items is not None:
                print("  " + "  ".join(f"item {i}: {v:.1f}" for i, v in enumerate(line.items, 1)))
        if not shown:
            print(f"no team pulse in {loaded.folder.name}/{pulse.FOLDER}/ yet: `kit cop pulse add --team TEAM`")
        return 0
    answers = args.answers if args.answers is not None else _ask(q)
    kept = pulse.add(args.team, answers, args.date, loaded.folder, teams=teams)
    print(f"recorded one anonymous answer set in {kept.source} ({len(kept.answers)} in this round)")
    return 0


def _ask(q) -> list[int]:
    """Each item asked in turn; with a terminal the answers are not echoed, so a shared screen shows none."""
    import getpass
    import sys

    from ..errors import KitError

    read = getpass.getpass if sys.stdin.isatty() else input
    print(f"{q.prompt}\nAnswer each from {q.scale}.")
    answers = []
    for item in q.items:
        while True:
            try:
                given = read(f"{item.number}. {item.text} [{q.minimum}-{q.maximum}] ").strip()
            except EOFError:
                raise KitError("the answers ended before the last question; nothing was recorded") from None
            if given.isdigit() and q.minimum <= int(given) <= q.maximum:
                answers.append(int(given))
                break
            print(f"  a whole number from {q.minimum} to {q.maximum}, please")
    return answers
