from __future__ import annotations

import pytest
from pydantic import Field, field_validator, model_validator

from kit.errors import InvalidInput
from kit.validation import Document, field_path, validated


class _Inject(Document):
    fault: str = Field(description="latency or errors")
    ratio: float = Field(ge=0, le=1)


class _Scenario(Document):
    name: str
    inject: list[_Inject]
    steady: _Inject | None = None

    @field_validator("name")
    @classmethod
    def _lowercase(cls, value: str) -> str:
        if value != value.lower():
            raise ValueError("must be lower case")
        return value


class _Refusal(InvalidInput):
    pass


def test_field_path_joins_names_and_indexes():
    assert field_path(("inject", 0, "params", "ratio")) == "inject[0].params.ratio"
    assert field_path((1, "x"), prefix="slos") == "slos[1].x"
    assert field_path(()) == ""


def test_a_valid_document_comes_back_as_the_model():
    scenario = validated(_Scenario, {"name": "a", "inject": [{"fault": "latency", "ratio": 0.5}]})
    assert scenario.inject[0].ratio == 0.5


@pytest.mark.parametrize(("doc", "field", "problem"), [
    ({"inject": []}, "name", "is required"),
    ({"name": "a", "inject": [], "typo": 1}, "typo", "is not a known field; allowed here: name, inject, steady"),
    ({"name": "a", "inject": [{"ratio": 1}]}, "inject[0].fault", "is required (latency or errors)"),
    ({"name": "a", "inject": [{"fault": "x", "ration": 1}]}, "inject[0].ration",
     "is not a known field; allowed here: fault, ratio"),
    ({"name": "a", "inject": [], "steady": {"fault": "x", "ratio": 0, "typo": 1}}, "steady.typo",
     "is not a known field; allowed here: fault, ratio"),
    ({"name": "A", "inject": []}, "name", "must be lower case"),
    ({"name": "a", "inject": [{"fault": "x", "ratio": 2}]}, "inject[0].ratio",
     "input should be less than or equal to 1 (got 2)"),
    ({"name": "a", "inject": [{"fault": "x", "ratio": "lots"}]}, "inject[0].ratio",
     "input should be a valid number, unable to parse string as a number (got 'lots')"),
])
def test_the_first_problem_names_its_field(doc, field, problem):
    with pytest.raises(InvalidInput) as raised:
        validated(_Scenario, doc)
    assert (raised.value.field, raised.value.problem) == (field, problem)


def test_a_misspelt_field_is_named_rather_than_the_field_it_leaves_missing():
    with pytest.raises(InvalidInput) as raised:
        validated(_Scenario, {"nme": "a", "inject": []})
    assert (raised.value.field, raised.value.problem) == ("nme", "is not a known field; allowed here: name, "
                                                                 "inject, steady")


def test_the_shallowest_unknown_field_comes_first():
    with pytest.raises(InvalidInput) as raised:
        validated(_Scenario, {"name": "a", "inject": [{"fault": "x", "ratio": 0, "deep": 1}], "top": 1})
    assert raised.value.field == "top"


class _Window(Document):
    long: int
    short: int


class _Policy(Document):
    windows: list[_Window]
    low: int = 0
    high: int = 1

    @field_validator("windows")
    @classmethod
    def _short_within_long(cls, windows: list[_Window]) -> list[_Window]:
        for i, window in enumerate(windows):
            if window.short >= window.long:
                raise InvalidInput(f"[{i}].short", "must be below long")
        return windows

    @model_validator(mode="after")
    def _ordered(self) -> "_Policy":
        if self.low > self.high:
            raise InvalidInput("low", f"{self.low} is above high")
        return self


@pytest.mark.parametrize(("doc", "field", "problem"), [
    ({"windows": [{"long": 2, "short": 1}, {"long": 2, "short": 3}]}, "policy.windows[1].short",
     "must be below long"),
    ({"windows": [], "low": 3}, "policy.low", "3 is above high"),
])
def test_an_invalid_input_raised_by_a_validator_names_the_field_below_the_one_validated(doc, field, problem):
    with pytest.raises(InvalidInput) as raised:
        validated(_Policy, doc, prefix="policy")
    assert (raised.value.field, raised.value.problem) == (field, problem)


def test_source_prefix_and_error_class_are_kept():
    with pytest.raises(_Refusal) as raised:
        validated(_Scenario, {"name": "a"}, source="drills/x.yaml", prefix="scenario", error=_Refusal)
    assert str(raised.value) == "drills/x.yaml: scenario.inject: is required"


def test_a_document_that_is_not_a_mapping_is_refused_at_its_root():
    with pytest.raises(InvalidInput) as raised:
        validated(_Scenario, ["not", "a", "mapping"], prefix="scenario")
    assert (raised.value.field, raised.value.problem) == ("scenario", "must be a mapping of keys to values, got list")


def test_a_long_refused_value_is_cut_short_in_the_message():
    with pytest.raises(InvalidInput) as raised:
        validated(_Scenario, {"name": "a", "inject": [{"fault": "x", "ratio": "9" * 10_000}]})
    assert raised.value.problem.endswith("(got '" + "9" * 36 + "...)")
