"""Incident drill scenarios: the YAML a game master writes, checked before anything is injected.

Every duration is written for production timing and compressed by the
sandbox profile's time scale when the drill runs, exactly as alert rules are,
so a scenario means the same thing in the lab profile and the realistic one.
Validation names the field at fault (``inject[1].after``) and the file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import CONTENT
from ..errors import InvalidInput
from ..shop.faults import ALIASES, FAULT_KINDS, FLAGS, ROUTES, validate_fault, validate_flag
from ..timescale import parse_duration
from ..yamldocs import syntax_error

DRILLS_DIR = CONTENT.drills
"""The kit's drill scenarios (an alias of ``kit.config.CONTENT.drills``, the folder's one owner)."""
SLOS_DIR = CONTENT.slos
"""The kit's SLO specs (an alias of ``kit.config.CONTENT.slos``)."""
DIFFICULTIES = ("easy", "medium", "hard")
SEVERITIES = ("page", "ticket")
LOAD_ROUTES = ("catalog", "product")
MAX_LOAD_RPS = 500.0
MAX_LOAD_SECONDS = 30 * 60
COMPARISONS = ("below", "above")
FAILURE_MODES = ("down", "slow", "errors", "bad-deploy", "capacity", "memory-leak", "blind-monitor", "feature-flag")
"""The words a diagnosis may use for what went wrong, so a grader can compare it with the scenario's."""
GRADED_DRILLS: dict[str, str] = {"06-incident-drill": "payments-slow"}
"""The scenario each lab's drill is graded on, by lab; kept out of the notebook, whose learners would read the
diagnosis in the scenario's name."""


class InvalidScenario(InvalidInput):
    """A scenario file that cannot run; the field and the file are in the message."""


@dataclass(frozen=True)
class Inject:
    """One action of the game master: a fault, a flag flip, or a noisy neighbour's load."""

    after: float
    """Seconds after the start, production timing."""
    fault: str | None = None
    service: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    flag: str | None = None
    enabled: bool | None = None
    load_route: str | None = None
    load_rps: float | None = None
    load_seconds: float | None = None
    """Real seconds; the load stops by itself after this, or when it is shed or the drill ends."""

    def describe(self) -> str:
        if self.fault:
            where = f" on {self.service}" if self.service else ""
            params = ", ".join(f"{k}={v}" for k, v in self.params.items())
            return f"fault {self.fault}{where}" + (f" ({params})" if params else "")
        if self.flag:
            return f"flag {self.flag} turned {'on' if self.enabled else 'off'}"
        return f"noisy neighbour: {self.load_rps:g} req/s on /{self.load_route}"


@dataclass(frozen=True)
class Check:
    """One clause of the steady-state hypothesis: a PromQL value on the right side of a bound."""

    name: str
    query: str
    bound: float
    comparison: str  # below | above

    def holds(self, value: float | None) -> bool:
        if value is None or value != value:
            return False
        return value < self.bound if self.comparison == "below" else value > self.bound

    def describe(self, value: float | None) -> str:
        shown = "no data" if value is None or value != value else f"{value:.4g}"
        return f"{self.name}: {shown} (wanted {self.comparison} {self.bound:g})"


@dataclass(frozen=True)
class Mitigation:
    """A real fix: the command to run and what it changes."""

    command: str
    effect: str


@dataclass(frozen=True)
class Scenario:
    """A drill, as the game master wrote it."""

    id: str
    title: str
    difficulty: str
    briefing: str
    injects: tuple[Inject, ...]
    expect_alerts: tuple[str, ...]
    expect_severity: str
    page_within: float
    """Production seconds from the first injection to the expected alert reaching the pager."""
    steady_state: tuple[Check, ...]
    mitigations: tuple[Mitigation, ...]
    diagnosis: dict[str, str]
    hints: tuple[str, ...] = ()
    debrief: tuple[str, ...] = ()
    slos: tuple[str, ...] = ()
    path: Path | None = None

    @property
    def settle(self) -> float:
        """Production seconds the steady state may need to show again: its longest query window and a margin."""
        from ..timescale import range_windows

        windows = [w for check in self.steady_state for w in range_windows(check.query)]
        return max(windows, default=60.0) + 60.0


def load(source: str | Path | dict) -> Scenario:
    """A scenario from a drill name (``payments-down``), a file path or a mapping."""
    path: Path | None = None
    if isinstance(source, dict):
        doc = source
    else:
        path = _locate(source)
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            found = syntax_error(error, path.name)  # one line at file:line:column, not the parser's excerpt
            raise InvalidScenario(found.field, found.problem, source=found.source) from None
    try:
        return _scenario(doc, path)
    except InvalidScenario:
        raise
    except InvalidInput as error:
        where = f" in {path.name}" if path else ""
        raise InvalidScenario(error.field, error.problem + where) from None


def names(folder: Path = DRILLS_DIR) -> list[str]:
    """The ids of every scenario file in the drills folder, sorted."""
    return sorted(p.stem for p in folder.glob("*.yml"))


def catalogue(folder: Path = DRILLS_DIR) -> list[Scenario]:
    """Every scenario of the folder, validated."""
    return [load(folder / f"{name}.yml") for name in names(folder)]


def pick_random(folder: Path = DRILLS_DIR, rng: random.Random | None = None) -> Scenario:
    """A scenario the mob cannot predict: the wheel of misfortune."""
    choices = names(folder)
    if not choices:
        raise InvalidScenario("drill", f"no scenario files in {folder}")
    return load(folder / f"{(rng or random.SystemRandom()).choice(choices)}.yml")


def _locate(source: str | Path) -> Path:
    text = str(source)
    path = Path(text)
    if path.suffix in (".yml", ".yaml"):
        if not path.exists():
            raise InvalidScenario("drill", f"no scenario file {path}")
        return path
    candidate = DRILLS_DIR / f"{text}.yml"
    if not candidate.exists():
        raise InvalidScenario("drill", f"{text!r} is not a drill; choose one of {', '.join(names())}")
    return candidate


_KEYS = {
    "required": ("id", "title", "difficulty", "briefing", "inject", "expect", "steady_state", "mitigations",
                 "diagnosis"),
    "optional": ("hints", "debrief", "slos"),
}


def _scenario(doc: Any, path: Path | None) -> Scenario:
    if not isinstance(doc, dict):
        raise InvalidScenario("scenario", "must be a YAML mapping of id, title, inject, expect, ...")
    _known(doc, "", _KEYS["required"], _KEYS["optional"])
    ident = _text(doc, "id")
    if path is not None and path.stem != ident:
        raise InvalidScenario("id", f"{ident!r} must match the file name {path.name}")
    difficulty = _text(doc, "difficulty")
    if difficulty not in DIFFICULTIES:
        raise InvalidScenario("difficulty", f"{difficulty!r} is not one of {', '.join(DIFFICULTIES)}")
    injects = tuple(_inject(item, f"inject[{i}]") for i, item in enumerate(_list(doc, "inject", minimum=1)))
    expect = doc["expect"]
    if not isinstance(expect, dict):
        raise InvalidScenario("expect", "must be a mapping of alerts, severity and page_within")
    _known(expect, "expect.", ("alerts", "severity", "page_within"), ())
    alerts = tuple(_text({"a": a}, "a", f"expect.alerts[{i}]") for i, a in enumerate(_list(expect, "alerts", "expect.", 1)))
    severity = _text(expect, "severity", "expect.severity")
    if severity not in SEVERITIES:
        raise InvalidScenario("expect.severity", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
    slos = tuple(_text({"s": s}, "s", f"slos[{i}]") for i, s in enumerate(doc.get("slos") or []))
    for i, name in enumerate(slos):
        if not (SLOS_DIR / f"{name}.yml").exists():
            raise InvalidScenario(f"slos[{i}]", f"no SLO spec slos/{name}.yml")
    return Scenario(
        id=ident,
        title=_text(doc, "title"),
        difficulty=difficulty,
        briefing=_text(doc, "briefing"),
        injects=injects,
        expect_alerts=alerts,
        expect_severity=severity,
        page_within=_duration(expect, "page_within", "expect.page_within"),
        steady_state=tuple(_check(c, f"steady_state[{i}]") for i, c in enumerate(_list(doc, "steady_state", minimum=1))),
        mitigations=tuple(_mitigation(m, f"mitigations[{i}]") for i, m in enumerate(_list(doc, "mitigations", minimum=1))),
        diagnosis=_diagnosis(doc["diagnosis"]),
        hints=tuple(_text({"h": h}, "h", f"hints[{i}]") for i, h in enumerate(doc.get("hints") or [])),
        debrief=tuple(_text({"q": q}, "q", f"debrief[{i}]") for i, q in enumerate(doc.get("debrief") or [])),
        slos=slos,
        path=path,
    )


def _inject(item: Any, where: str) -> Inject:
    if not isinstance(item, dict):
        raise InvalidScenario(where, "must be a mapping with `after` and one of fault, flag or load")
    _known(item, f"{where}.", ("after",), ("fault", "service", "params", "flag", "enabled", "load"))
    after = _duration(item, "after", f"{where}.after", allow_zero=True)
    kinds = [key for key in ("fault", "flag", "load") if key in item]
    if len(kinds) != 1:
        raise InvalidScenario(where, "needs exactly one of fault, flag or load")
    if "fault" in item:
        kind = _text(item, "fault", f"{where}.fault")
        service = item.get("service")
        params = item.get("params") or {}
        if not isinstance(params, dict):
            raise InvalidScenario(f"{where}.params", "must be a mapping of the fault's parameters")
        real_service, real_kind = ALIASES.get(kind, (service or "shop", kind))
        if kind not in FAULT_KINDS and kind not in ALIASES:
            choices = ", ".join([*FAULT_KINDS, *ALIASES])
            raise InvalidScenario(f"{where}.fault", f"{kind!r} is not a fault; choose one of {choices}")
        try:
            validate_fault(real_kind, params, real_service)
        except InvalidInput as error:
            field_name = "service" if error.field in ("service", "kind") else f"params.{error.field}"
            raise InvalidScenario(f"{where}.{field_name}", error.problem) from None
        return Inject(after, fault=kind, service=service, params=dict(params))
    if "flag" in item:
        name = _text(item, "flag", f"{where}.flag")
        if name not in FLAGS:
            raise InvalidScenario(f"{where}.flag", f"{name!r} is not a feature flag; choose one of {', '.join(FLAGS)}")
        try:
            enabled = validate_flag(name, item.get("enabled"))
        except InvalidInput as error:
            raise InvalidScenario(f"{where}.enabled", error.problem) from None
        return Inject(after, flag=name, enabled=enabled)
    load = item["load"]
    if not isinstance(load, dict):
        raise InvalidScenario(f"{where}.load", "must be a mapping of route, rps and duration")
    _known(load, f"{where}.load.", ("route", "rps"), ("duration",))
    route = _text(load, "route", f"{where}.load.route")
    if route not in LOAD_ROUTES:
        raise InvalidScenario(f"{where}.load.route", f"{route!r} must be one of {', '.join(LOAD_ROUTES)}")
    rps = _number(load, "rps", f"{where}.load.rps")
    if not 0 < rps <= MAX_LOAD_RPS:
        raise InvalidScenario(f"{where}.load.rps", f"must be more than 0 and at most {MAX_LOAD_RPS:g}, got {rps:g}")
    seconds = _duration(load, "duration", f"{where}.load.duration") if "duration" in load else 20 * 60.0
    if seconds > MAX_LOAD_SECONDS:
        raise InvalidScenario(f"{where}.load.duration", f"at most {MAX_LOAD_SECONDS // 60} minutes, got {seconds:g} s")
    return Inject(after, load_route=route, load_rps=rps, load_seconds=seconds)


def _check(item: Any, where: str) -> Check:
    if not isinstance(item, dict):
        raise InvalidScenario(where, "must be a mapping of name, query and below or above")
    _known(item, f"{where}.", ("name", "query"), COMPARISONS)
    given = [c for c in COMPARISONS if c in item]
    if len(given) != 1:
        raise InvalidScenario(where, "needs exactly one of below or above")
    return Check(_text(item, "name", f"{where}.name"), _text(item, "query", f"{where}.query"),
                 _number(item, given[0], f"{where}.{given[0]}"), given[0])


def _mitigation(item: Any, where: str) -> Mitigation:
    if not isinstance(item, dict):
        raise InvalidScenario(where, "must be a mapping of command and effect")
    _known(item, f"{where}.", ("command", "effect"), ())
    command = _text(item, "command", f"{where}.command")
    if not command.startswith("kit "):
        raise InvalidScenario(f"{where}.command", f"{command!r} must be a kit command (kit mitigate ..., kit flag ...)")
    return Mitigation(command, _text(item, "effect", f"{where}.effect"))


def _diagnosis(item: Any) -> dict[str, str]:
    if not isinstance(item, dict):
        raise InvalidScenario("diagnosis", "must be a mapping of component, mode and cause")
    _known(item, "diagnosis.", ("component", "mode", "cause"), ())
    component = _text(item, "component", "diagnosis.component")
    if component not in ROUTES:
        raise InvalidScenario("diagnosis.component", f"{component!r} must be one of {', '.join(ROUTES)}")
    mode = _text(item, "mode", "diagnosis.mode")
    if mode not in FAILURE_MODES:
        raise InvalidScenario("diagnosis.mode", f"{mode!r} must be one of {', '.join(FAILURE_MODES)}")
    return {"component": component, "mode": mode, "cause": _text(item, "cause", "diagnosis.cause")}


def _known(doc: dict, prefix: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
    for key in doc:
        if key not in required and key not in optional:
            allowed = ", ".join((*required, *optional))
            raise InvalidScenario(f"{prefix}{key}", f"is not a known key here; known keys: {allowed}")
    for key in required:
        if key not in doc:
            raise InvalidScenario(f"{prefix}{key}", "is required")


def _text(doc: dict, key: str, where: str | None = None) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidScenario(where or key, f"must be non-empty text, got {value!r}")
    return value.strip()


def _number(doc: dict, key: str, where: str) -> float:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidScenario(where, f"must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # YAML integers have no limit; a float does
        raise InvalidScenario(where, f"is a {len(str(abs(value)))}-digit number, too large to use") from None


def _duration(doc: dict, key: str, where: str, allow_zero: bool = False) -> float:
    value = doc.get(key)
    if allow_zero and value in (0, "0", "0s"):
        return 0.0
    seconds = parse_duration(str(value), where) if value is not None else None
    if not seconds:
        raise InvalidScenario(where, f"must be a duration such as 30s or 5m, got {value!r}")
    return seconds


def _list(doc: dict, key: str, prefix: str = "", minimum: int = 0) -> list:
    value = doc.get(key)
    if not isinstance(value, list) or len(value) < minimum:
        raise InvalidScenario(f"{prefix}{key}", f"must be a list of at least {minimum} item(s)")
    return value
