"""`kit league` over a generated season of 10 teams x 20 sessions, against the ≤ 2 s target.

Usage: .venv/bin/python benchmarks/league.py [--runs N]

A repository of its own under benchmarks/.work/ holds a season as a community keeps it: 10 mobs of 4 to 6 members
(about a third newcomers), 20 sessions per mob (every other one a drill with its result in the drill results,
the others labs, each rotating roles), a gradebook CSV per lab with a row per member, 60 shares, 20 experiments,
a deploy log of 40 releases (some rolled back), 6 saved alert reviews and the rules file. Timed `--runs` times
each (default 5): `python -m kit.cli league --season ...` as a new process (interpreter start and imports
included, as a person runs it), the same with `--html` (the league page written too), and in this process the
whole season read and scored (leaguesources.season) and the scoring alone (league.score). Reported: median and
slowest. Not a ratio: the target is absolute.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import _common as c
import yaml

from kit.community import league, leaguesources, records

TARGET_S = 2.0
TEAMS, SESSIONS = 10, 20
DRILLS = ("payments-down", "slow-burn", "memory-leak", "bad-deploy")
START = date(2026, 9, 1)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _at(day: date, hour: int = 12) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc).timestamp()


def generate(root: Path, seed: int = 7) -> Path:
    """Write the season under ``root``; the rules file's path."""
    rng = random.Random(seed)
    for name in ("solutions", "drills"):
        (root / name).symlink_to(c.REPO / name)
    community = root / "community"
    labs = sorted(p.name for p in (c.REPO / "solutions").iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    teams: dict[str, list[str]] = {}
    for t in range(TEAMS):
        team = f"mob-{t:02}"
        teams[team] = [f"m{t:02}{i}" for i in range(rng.randint(4, 6))]
        for i, handle in enumerate(teams[team]):
            _write(community / "members" / f"{handle}.yaml", yaml.safe_dump({
                "name": handle.title(), "joined": START, "experience": "newcomer" if i % 3 == 2 else "experienced",
                "catalog": f"user-{handle}"}))
        _write(community / "teams" / f"{team}.yaml", yaml.safe_dump({"name": f"Mob {t:02}", "members": teams[team],
                                                                      "formed": START}))
    results, grades = [], {lab: ["student,a,b,total,max_total,note"] for lab in labs}
    for team, members in teams.items():
        for s in range(SESSIONS):
            day = START + timedelta(days=5 * s + rng.randint(0, 3))
            drill = s % 2 == 1
            subject = DRILLS[s // 2 % len(DRILLS)] if drill else labs[s // 2 % len(labs)]
            came = rng.sample(members, k=max(2, len(members) - rng.randint(0, 2)))
            roles = ("incident commander", "driver", "scribe") if drill else ("driver", "navigator", "researcher")
            rotations = [{role: came[(turn + k) % len(came)] for k, role in enumerate(roles)} for turn in range(3)]
            ident = f"{day}-{team}-{subject}"
            entry = {"date": day, "kind": "drill" if drill else "lab", "subject": subject, "team": team,
                     "minutes": 90, "attendees": came, "rotations": rotations}
            if drill:
                run = f"{day:%Y%m%d}-1{s:02}000-{team}-{subject}"
                entry["drill_run"] = run
                results.append({"run": run, "scenario": subject, "outcome": rng.choice(["resolved"] * 4 + ["abandoned"]),
                                "ttd_s": rng.uniform(20, 120), "tta_s": rng.uniform(5, 90), "ttm_s": rng.uniform(60, 400),
                                "ttr_s": rng.uniform(90, 600), "hints_used": rng.randint(0, 3)})
            else:
                for handle in came:
                    total = rng.randint(0, 10)
                    grades[subject].append(f"{handle},{total // 2},{total - total // 2},{total},10,")
            _write(community / "sessions" / f"{ident}.yaml", yaml.safe_dump(entry, sort_keys=False))
    handles = [h for members in teams.values() for h in members]
    for i in range(60):
        day = START + timedelta(days=rng.randint(0, 100))
        _write(community / "shares" / f"{day}-share-{i:02}.yaml", yaml.safe_dump({
            "date": day, "kind": rng.choice(["talk", "write-up", "demo"]), "title": f"Share {i}",
            "by": rng.sample(handles, k=rng.randint(1, 2))}))
    for i, team in enumerate(list(teams) * 2):
        started = START + timedelta(days=rng.randint(0, 60))
        _write(community / "experiments" / f"experiment-{i:02}.yaml", yaml.safe_dump({
            "title": f"Experiment {i}", "owners": [teams[team][0]], "team": team, "hypothesis": "h", "change": "c",
            "metric": "median TTA in drills", "unit": "s", "better": "lower", "before": 100, "after": 80,
            "started": started, "ended": started + timedelta(days=21),
            "outcome": rng.choice(["adopted", "abandoned", "inconclusive"])}))
    _write(root / "state" / "drills" / "results.jsonl", "".join(json.dumps(r) + "\n" for r in results))
    gradebooks = []
    for lab, rows in grades.items():
        _write(root / "grades" / f"{lab}.csv", "\n".join(rows) + "\n")
        gradebooks.append({"file": f"grades/{lab}.csv", "lab": lab, "date": START + timedelta(days=50)})
    events = []
    for v in range(40):
        day, actor = START + timedelta(days=2 * v), f"user-{rng.choice(handles)}"
        common = {"version": f"1.{v}.0", "commit": f"c{v}", "commit_time": _at(day, 9), "actor": actor}
        events.append({"kind": "deploy", "at": _at(day, 10), "weight": 10, **common})
        last = {"kind": "rollback", "weight": 0} if v % 7 == 3 else {"kind": "promote", "weight": 100}
        events.append({"at": _at(day, 11), **last, **common})
    _write(root / "state" / "deploys.jsonl", "".join(json.dumps(e) + "\n" for e in events))
    alerts = ["ShopDown", "PaymentsDown", "CheckoutErrors", "SlowBurn", "LatencyHigh", "DiskFull", "Flappy"]
    receivers = {f"team-{t}": team for t, team in enumerate(teams)}
    for r in range(6):
        end = _at(START + timedelta(days=14 * (r + 1)))
        _write(community / "reviews" / f"review-{r}.json", json.dumps({"start": end - 7 * 86400, "end": end, "alerts": [
            {"alertname": f"{name}{t}", "team": receiver, "pages": rng.randint(0, 5),
             "action": rng.choice(["keep", "keep", "raise its threshold or lengthen its for:"])}
            for t, receiver in enumerate(receivers) for name in alerts]}))
    rules = yaml.safe_load((c.REPO / "community" / leaguesources.RULES).read_text(encoding="utf-8"))
    rules["season"] = {"name": "benchmark", "start": START, "end": START + timedelta(days=120)}
    rules["sources"] = {"gradebooks": gradebooks, "alert_reviews": "community/reviews", "alert_teams": receivers,
                        "drill_results": "state/drills/results.jsonl", "deploy_log": "state/deploys.jsonl"}
    path = community / leaguesources.RULES
    _write(path, yaml.safe_dump(rules, sort_keys=False))
    return path


def _process(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "kit.cli", *argv], env=env, capture_output=True, text=True,
                          cwd=c.REPO)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or "Reliability League" not in done.stdout:
        raise SystemExit(f"`kit {' '.join(argv)}` failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return seconds


def _in_process(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = c.state_dir("league")
    try:
        rules_file = generate(root)
        env = {**os.environ, "PYTHONPATH": str(c.REPO), "KIT_STATE_DIR": str(root / "state")}
        found = leaguesources.season(rules_file)
        loaded = records.load(rules_file.parent)
        rules = leaguesources.load_rules(rules_file)
        results = leaguesources.gather(rules, loaded, root)
        print(found)
        page = root / "league.html"
        times: dict[str, list[float]] = {"`kit league` (a new process)": [],
                                         "`kit league --html OUT` (a new process)": [],
                                         "read and score the season (in process)": [],
                                         "score only (in process)": []}
        for _ in range(args.runs):
            keys = iter(times)
            times[next(keys)].append(_process(["league", "--season", str(rules_file)], env))
            times[next(keys)].append(_process(["league", "--season", str(rules_file), "--html", str(page)], env))
            times[next(keys)].append(_in_process(lambda: leaguesources.season(rules_file)))
            times[next(keys)].append(_in_process(lambda: league.score(rules, results)))
        size = (f"{len(loaded.teams)} teams, {len(loaded.members)} members, {len(loaded.sessions)} sessions, "
                f"{len(results.drills)} drill results, {len(results.grades)} gradebook rows, {len(loaded.shares)} "
                f"shares, {len(loaded.experiments)} experiments, {len(results.releases)} releases, "
                f"{len(results.reviews)} alert reviews: {len(found.awards)} awards; page {page.stat().st_size // 1024} KiB")
    finally:
        c.remove(root)
    rows, ok = [], True
    for what, seconds in times.items():
        met = max(seconds) <= TARGET_S
        ok &= met
        rows.append([what, c.fmt_s(c.median(seconds)), c.fmt_s(max(seconds)), f"≤ {TARGET_S:g} s", c.verdict(met)])
        print(f"{what}: median {c.median(seconds):.3f} s, slowest {max(seconds):.3f} s over {len(seconds)} runs")
    print(size)
    body = "\n\n".join([
        f"A generated season ({size}); {args.runs} runs each, alternating. The process figures include the "
        "interpreter's start and the imports, as a person runs the command.",
        c.table(["what", "median", "slowest", "target", "verdict"], rows),
    ])
    c.write_section("league", "kit league: the Reliability League over 10 teams x 20 sessions", body)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
