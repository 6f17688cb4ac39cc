"""Incident drill scenarios: the YAML a game master writes, validated before anything is injected.

Every duration is written for production timing and compressed by the
sandbox profile's time scale when the drill runs, exactly as alert rules are,
so a scenario means the same thing in the lab profile and the realistic one.
Validation names the field at fault (``inject[1].after``) and the file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, model_validator

from ..config import CONTENT
from ..errors import InvalidInput
from ..shop.faults import ALIASES, FAULT_KINDS, FLAGS, ROUTES, validate_fault, validate_flag
from ..timescale import parse_duration
from ..validation import Document, validated
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
class Probe:
    """One probe of the steady-state hypothesis (Chaos Toolkit's word): a PromQL value on the right side of a
    bound. A scenario file lists them under ``steady_state``."""

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
    steady_state: tuple[Probe, ...]
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

        windows = [w for probe in self.steady_state for w in range_windows(probe.query)]
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
    return _scenario(doc, path)


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


def _seconds(value: Any) -> float:
    """A duration as written (``30s``, ``5m``; ``0`` needs no unit) in seconds, by kit.timescale's reading."""
    if str(value).strip() == "0":
        return 0.0
    try:
        return parse_duration(str(value), "duration")
    except InvalidInput as error:
        raise ValueError(error.problem) from None


def _load_length(seconds: float) -> float:
    if seconds > MAX_LOAD_SECONDS:
        raise ValueError(f"at most {MAX_LOAD_SECONDS // 60} minutes, got {seconds:g} s")
    return seconds


def _kit_command(command: str) -> str:
    if not command.startswith("kit "):
        raise ValueError(f"{command!r} must be a kit command (kit mitigate ..., kit flag ...)")
    return command


def _known_slo(name: str) -> str:
    if not (SLOS_DIR / f"{name}.yml").exists():
        raise ValueError(f"no SLO spec slos/{name}.yml")
    return name


_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A number as YAML writes it: ``true`` and ``'5'`` are not numbers."""
_Moment = Annotated[float, BeforeValidator(_seconds)]
"""Production seconds after the start of the drill; ``0`` is its start."""
_Duration = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]


class _Load(Document):
    route: Literal[LOAD_ROUTES]
    rps: Annotated[_Number, Field(gt=0, le=MAX_LOAD_RPS)]
    duration: Annotated[_Duration, AfterValidator(_load_length)] = 20 * 60.0


class _Inject(Document):
    after: _Moment
    fault: Literal[(*FAULT_KINDS, *ALIASES)] | None = None
    service: str | None = None
    params: dict[str, Any] = {}
    """Checked by the fault table (kit.shop.faults), which knows each kind's parameters."""
    flag: Literal[tuple(FLAGS)] | None = None
    enabled: Any = None
    """Checked by the fault table (kit.shop.faults.validate_flag)."""
    load: _Load | None = None

    @model_validator(mode="after")
    def _one_action(self) -> _Inject:
        if [self.fault, self.flag, self.load].count(None) != 2:
            raise ValueError("needs exactly one of fault, flag or load")
        return self


class _Probe(Document):
    name: _Text
    query: _Text
    below: _Number | None = None
    above: _Number | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> _Probe:
        if (self.below is None) == (self.above is None):
            raise ValueError("needs exactly one of below or above")
        return self


class _Mitigation(Document):
    command: Annotated[_Text, AfterValidator(_kit_command)]
    effect: _Text


class _Diagnosis(Document):
    component: Literal[tuple(ROUTES)]
    mode: Literal[FAILURE_MODES]
    cause: _Text


class _Expect(Document):
    alerts: list[_Text] = Field(min_length=1)
    severity: Literal[SEVERITIES]
    page_within: _Duration


class _Scenario(Document):
    """A scenario file as the game master writes it."""

    id: _Text
    title: _Text
    difficulty: Literal[DIFFICULTIES]
    briefing: _Text
    inject: list[_Inject] = Field(min_length=1)
    expect: _Expect
    steady_state: list[_Probe] = Field(min_length=1)
    mitigations: list[_Mitigation] = Field(min_length=1)
    diagnosis: _Diagnosis
    hints: list[_Text] = []
    debrief: list[_Text] = []
    slos: list[Annotated[_Text, AfterValidator(_known_slo)]] = []


def _scenario(doc: Any, path: Path | None) -> Scenario:
    source = path.name if path else ""
    if not isinstance(doc, dict):
        raise InvalidScenario("scenario", "must be a YAML mapping of id, title, inject, expect, ...", source=source)
    spec = validated(_Scenario, doc, source=source, error=InvalidScenario)
    if path is not None and path.stem != spec.id:
        raise InvalidScenario("id", f"{spec.id!r} must match the file name {path.name}", source=source)
    return Scenario(
        id=spec.id,
        title=spec.title,
        difficulty=spec.difficulty,
        briefing=spec.briefing,
        injects=tuple(_inject(item, f"inject[{i}]", source) for i, item in enumerate(spec.inject)),
        expect_alerts=tuple(spec.expect.alerts),
        expect_severity=spec.expect.severity,
        page_within=spec.expect.page_within,
        steady_state=tuple(_probe(item) for item in spec.steady_state),
        mitigations=tuple(Mitigation(item.command, item.effect) for item in spec.mitigations),
        diagnosis=spec.diagnosis.model_dump(),
        hints=tuple(spec.hints),
        debrief=tuple(spec.debrief),
        slos=tuple(spec.slos),
        path=path,
    )


def _inject(item: _Inject, where: str, source: str) -> Inject:
    """The action of one inject, its fault's parameters or flag value checked by the fault table."""
    if item.fault is not None:
        real_service, real_kind = ALIASES.get(item.fault, (item.service or "shop", item.fault))
        try:
            validate_fault(real_kind, item.params, real_service)
        except InvalidInput as error:
            field_name = "service" if error.field in ("service", "kind") else f"params.{error.field}"
            raise InvalidScenario(f"{where}.{field_name}", error.problem, source=source) from None
        return Inject(item.after, fault=item.fault, service=item.service, params=dict(item.params))
    if item.flag is not None:
        try:
            enabled = validate_flag(item.flag, item.enabled)
        except InvalidInput as error:
            raise InvalidScenario(f"{where}.enabled", error.problem, source=source) from None
        return Inject(item.after, flag=item.flag, enabled=enabled)
    load = item.load
    return Inject(item.after, load_route=load.route, load_rps=load.rps, load_seconds=load.duration)


def _probe(item: _Probe) -> Probe:
    comparison = "below" if item.below is not None else "above"
    return Probe(item.name, item.query, getattr(item, comparison), comparison)
