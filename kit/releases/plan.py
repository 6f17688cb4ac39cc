"""Release plans: the rings a canary walks, how it is judged, the SLO it protects and the regression it must see.

A plan is a YAML file in ``releases/`` (``kit.config.CONTENT.releases``), read once into a frozen
``ReleasePlan``. Every problem is reported with the file and the field as the plan spells it
(``releases/lab.yml: rings[1].duration: ...``). The fields:

``description``
    what the plan is for, in words.
``slo``
    the SLO the release protects: the name of a spec in ``slos/`` (``shop-availability``).
``rings``
    the canary's weights in percent of requests, rising, each below 100, with how long it stays there
    (``{weight: 10, duration: 30s}``). After the last ring passes, promotion takes the canary to 100 %:
    a ring needs stable traffic to compare with, so none is at 100.
``sample_interval``
    the step of the range queries: one value per track per interval (``kit.releases.query``). It must hold at
    least two scrapes, which the runner checks against the sandbox's profile.
``judge_every``
    how often the runner judges within a ring, at least one ``sample_interval``; the last judgment falls at
    the end of the ring.
``judge``
    one of ``thresholds``, ``conditions`` or ``statistical``, mapping to its settings, whose keys are the
    fields of ``kit.releases.checks.Thresholds``, ``Conditions`` or ``kit.releases.statistical.StatisticalSettings``
    (``metrics`` a list of ``MetricSpec`` fields); a key left out keeps the dataclass's default.
``detect``
    the regression each ring must be long enough to see (``kit.releases.power``): ``error_ratio_increase``
    (a share: 0.005 = 0.5 percentage points), ``alpha`` (one-sided) and ``power``.
``traffic``
    optional: ``rps``, extra requests a second the runner sends through the proxy while the release runs
    (``kit.shop.traffic``), so that a small ring gets enough requests in a short step; at most
    ``MAX_TRAFFIC_RPS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, get_type_hints

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints, create_model, model_validator

from .. import yamldocs
from ..config import CONTENT
from ..errors import InvalidInput
from ..timescale import parse_duration
from ..validation import Document, validated
from .checks import ConditionResult, Conditions, ThresholdResult, Thresholds, judge_conditions, judge_thresholds
from .series import TrackSeries
from .statistical import MetricSpec, StatisticalResult, StatisticalSettings, judge_statistically

__all__ = ["JUDGES", "MAX_TRAFFIC_RPS", "Detect", "ReleasePlan", "Ring", "load_plan", "plan_names"]

JUDGES: tuple[str, ...] = ("thresholds", "conditions", "statistical")
MAX_TRAFFIC_RPS = 200.0
"""The most extra traffic a plan may ask for: well below the shop's simulated capacity (8 slots, ~20 ms each)."""

Settings = Thresholds | Conditions | StatisticalSettings
JudgeResult = ThresholdResult | ConditionResult | StatisticalResult


@dataclasses.dataclass(frozen=True)
class Ring:
    """One ring: ``weight`` percent of requests (1-99) go to the canary for ``duration_s`` seconds."""

    weight: int
    duration_s: float


@dataclasses.dataclass(frozen=True)
class Detect:
    """The regression every ring must be able to see: the error ratio ``error_ratio_increase`` (a share) above the
    baseline's, at one-sided significance ``alpha`` with probability ``power``."""

    error_ratio_increase: float
    alpha: float
    power: float


@dataclasses.dataclass(frozen=True)
class ReleasePlan:
    """A validated plan (see the module docstring); durations in seconds, ``source`` the file it came from."""

    name: str
    description: str
    slo: str
    rings: tuple[Ring, ...]
    sample_interval_s: float
    judge_every_s: float
    judge: str
    settings: Settings
    detect: Detect
    traffic_rps: float = 0.0
    source: str = ""

    @property
    def seconds(self) -> float:
        """The rings' time end to end, in seconds."""
        return sum(ring.duration_s for ring in self.rings)

    def judge_tracks(self, baseline: TrackSeries, canary: TrackSeries) -> JudgeResult:
        """The plan's judge on one judged interval: the canary alone, or against the baseline (statistical)."""
        if self.judge == "thresholds":
            return judge_thresholds(canary, self.settings)  # type: ignore[arg-type]
        if self.judge == "conditions":
            return judge_conditions(canary, self.settings)  # type: ignore[arg-type]
        return judge_statistically(baseline, canary, self.settings)  # type: ignore[arg-type]

    def margin(self, baseline_error_ratio: float) -> float:
        """The rise in the error ratio (a share) the judge lets pass at ``baseline_error_ratio``: the power check's margin.

        thresholds: up to ``1 − min_success_rate`` in all; conditions: up to ``1 − success_min_rate`` (above
        it no measurement succeeds); statistical: the error_ratio metric's limit, ``allowed_increase ×
        baseline + tolerance``.
        """
        settings = self.settings
        if isinstance(settings, Thresholds):
            return max(0.0, 1 - settings.min_success_rate - baseline_error_ratio)
        if isinstance(settings, Conditions):
            return max(0.0, 1 - settings.success_min_rate - baseline_error_ratio)
        spec = next(spec for spec in settings.metrics if spec.name == "error_ratio")
        return spec.allowed_increase * baseline_error_ratio + spec.tolerance


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"must be a duration like 30s, 5m or 1h30m, got {value!r}")
    try:
        seconds = parse_duration(value, "duration")
    except InvalidInput as error:
        raise ValueError(error.problem) from None
    if seconds <= 0:
        raise ValueError(f"must be longer than 0, got {value!r}")
    return seconds


_Duration = Annotated[float, BeforeValidator(_seconds)]
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Strict(Document):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Settings(_Strict):
    """A judge's settings as written: the keys are the dataclass's fields; what is left out keeps its default."""

    builds: ClassVar[type]

    def build(self) -> Any:
        values = {}
        for name in self.model_fields_set:
            value = getattr(self, name)
            values[name] = tuple(item.build() for item in value) if isinstance(value, list) else value
        return self.builds(**values)

    @model_validator(mode="after")
    def _valid(self) -> "_Settings":
        self.build()  # the dataclass's own checks, each raising InvalidInput with its field
        return self


def _settings_model(cls: type, **nested: Any) -> type[_Settings]:
    """A pydantic model of ``cls``'s fields (types from its hints, or ``nested``), every one optional."""
    hints = get_type_hints(cls)
    fields = {f.name: (nested.get(f.name, hints[f.name]) | None, None) for f in dataclasses.fields(cls)}
    model = create_model(f"_{cls.__name__}", __base__=_Settings, **fields)
    model.builds = cls
    return model


_MetricModel = _settings_model(MetricSpec)
_SETTINGS: dict[str, type[_Settings]] = {
    "thresholds": _settings_model(Thresholds),
    "conditions": _settings_model(Conditions),
    "statistical": _settings_model(StatisticalSettings, metrics=list[_MetricModel]),
}


class _Judge(_Strict):
    thresholds: _SETTINGS["thresholds"] | None = None  # type: ignore[valid-type]
    conditions: _SETTINGS["conditions"] | None = None  # type: ignore[valid-type]
    statistical: _SETTINGS["statistical"] | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _one(self) -> "_Judge":
        if len(self.model_fields_set) != 1:
            raise ValueError(f"name exactly one judge ({', '.join(JUDGES)}) with its settings ({{}} for the "
                             f"defaults); got {', '.join(sorted(self.model_fields_set)) or 'none'}")
        return self


def _known_slo(name: str) -> str:
    from ..slo import load_spec  # here: kit.slo is only needed to check the plan's SLO

    path = CONTENT.slos / f"{name}.yml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in CONTENT.slos.glob("*.yml")))
        raise ValueError(f"no SLO spec slos/{name}.yml; the SLOs: {known}")
    load_spec(path)
    return name


class _Ring(_Strict):
    weight: int = Field(description="percent of requests, 1-99, e.g. 10")
    duration: _Duration = Field(description="e.g. 30s or 10m")

    @model_validator(mode="after")
    def _below_100(self) -> "_Ring":
        if not 1 <= self.weight <= 99:
            raise InvalidInput("weight", f"must be a whole percentage from 1 to 99, got {self.weight}: after the last "
                                         "ring, promotion takes the canary to 100 %")
        return self


class _Detect(_Strict):
    error_ratio_increase: float = Field(gt=0, lt=1, description="a share: 0.005 for 0.5 percentage points")
    alpha: float = Field(0.05, gt=0, lt=0.5)
    power: float = Field(0.8, gt=0, lt=1)

    @model_validator(mode="after")
    def _power_above_alpha(self) -> "_Detect":
        if self.power <= self.alpha:
            raise InvalidInput("power", f"must be above alpha ({self.alpha:g}), got {self.power:g}")
        return self


class _Traffic(_Strict):
    rps: float = Field(ge=0, le=MAX_TRAFFIC_RPS, allow_inf_nan=False, description="extra requests a second, e.g. 40")


class _Plan(_Strict):
    description: _Text = Field(description="what the plan is for")
    slo: Annotated[str, AfterValidator(_known_slo), Field(description="an SLO spec in slos/, e.g. shop-availability")]
    rings: list[_Ring] = Field(min_length=1, description="e.g. [{weight: 10, duration: 30s}]")
    sample_interval: _Duration = Field(description="e.g. 2s in the lab profile, 1m in the realistic one")
    judge_every: _Duration = Field(description="e.g. 2s")
    judge: _Judge = Field(description=f"one of {', '.join(JUDGES)} with its settings")
    detect: _Detect = Field(description="error_ratio_increase, alpha, power")
    traffic: _Traffic | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "_Plan":
        if self.judge_every < self.sample_interval:
            raise InvalidInput("judge_every", f"{self.judge_every:g} s is shorter than sample_interval "
                                              f"({self.sample_interval:g} s): a judgment needs a whole interval")
        for i, ring in enumerate(self.rings):
            if i and ring.weight <= self.rings[i - 1].weight:
                raise InvalidInput(f"rings[{i}].weight", f"{ring.weight} % must be above the ring before it "
                                                         f"({self.rings[i - 1].weight} %): rings only widen")
            if ring.duration < self.judge_every:
                raise InvalidInput(f"rings[{i}].duration", f"{ring.duration:g} s is shorter than judge_every "
                                                           f"({self.judge_every:g} s): the ring would never be judged")
        needed, setting = _least_intervals(self.judge)
        for i, ring in enumerate(self.rings):
            if ring.duration < needed * self.sample_interval:
                raise InvalidInput(f"rings[{i}].duration", (
                    f"{ring.duration:g} s holds {int(ring.duration // self.sample_interval)} sample intervals of "
                    f"{self.sample_interval:g} s, fewer than the judge's {setting}={needed}: the ring could only pause"))
        statistical = self.judge.statistical
        if statistical is not None and not any(spec.name == "error_ratio" for spec in statistical.build().metrics):
            raise InvalidInput("judge.statistical.metrics", "needs an error_ratio metric: detect is about errors, "
                                                            "and a judge without it cannot see them")
        return self


def _least_intervals(judge: _Judge) -> tuple[int, str]:
    """The fewest sample intervals the judge promotes on, and the setting that says so."""
    name = next(iter(judge.model_fields_set))
    settings = getattr(judge, name).build()
    setting = {"thresholds": "min_checks", "conditions": "min_measurements", "statistical": "min_samples"}[name]
    return getattr(settings, setting), setting


def plan_names(folder: Path | None = None) -> list[str]:
    """The names of the plans in ``folder`` (default ``releases/``), sorted."""
    return sorted(p.stem for p in (folder or CONTENT.releases).glob("*.yml"))


def _locate(source: str | Path) -> Path:
    path = Path(source)
    if isinstance(source, Path) or path.suffix in (".yml", ".yaml") or len(path.parts) > 1:
        if not path.is_file():
            raise InvalidInput("plan", f"no plan file {path}")
        return path
    candidate = CONTENT.releases / f"{source}.yml"
    if not candidate.is_file():
        raise InvalidInput("plan", f"{source!r} is not a plan in releases/; the plans: {', '.join(plan_names())}")
    return candidate


def load_plan(source: str | Path | Mapping[str, Any]) -> ReleasePlan:
    """A plan from its name in ``releases/`` (``lab``), a file path, or a mapping as the YAML holds it (named
    ``plan``); a plan's name is its file's.

    Raises InvalidInput naming the file and the field as the plan spells it (``rings[1].duration``), for an
    unknown field, a missing or wrong value, rings that do not widen, or an SLO that is not in ``slos/``.
    """
    if isinstance(source, Mapping):
        documents, name = yamldocs.read(source), "plan"
    else:
        path = _locate(source)
        documents, name = yamldocs.read(path), path.stem
    if len(documents) != 1:
        raise InvalidInput("", f"holds {len(documents)} YAML documents; a plan is one", source=documents[0].where)
    document = documents[0]
    if document.file:
        document = dataclasses.replace(document, file=CONTENT.shown(document.file))
    model = validated(_Plan, document.data, source=document.where)
    judge = next(iter(model.judge.model_fields_set))
    detect = model.detect
    return ReleasePlan(
        name=name, description=model.description, slo=model.slo,
        rings=tuple(Ring(ring.weight, ring.duration) for ring in model.rings),
        sample_interval_s=model.sample_interval, judge_every_s=model.judge_every, judge=judge,
        settings=getattr(model.judge, judge).build(),
        detect=Detect(detect.error_ratio_increase, detect.alpha, detect.power),
        traffic_rps=model.traffic.rps if model.traffic else 0.0, source=document.where)
