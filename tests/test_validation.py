from __future__ import annotations

import pytest
from pydantic import Field, field_validator

from kit.errors import InvalidInput
from kit.validation import Document, field_path, validated


class _Inject(Document):
    fault: str
    ratio: float = Field(ge=0, le=1)


class _Scenario(Document):
    name: str
    inject: list[_Inject]

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
    ({"name": "a", "inject": [], "typo": 1}, "typo", "is not a known field"),
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


def test_source_prefix_and_error_class_are_kept():
    with pytest.raises(_Refusal) as raised:
        validated(_Scenario, {"name": "a"}, source="drills/x.yaml", prefix="scenario", error=_Refusal)
    assert str(raised.value) == "drills/x.yaml: scenario.inject: is required"


def test_a_document_that_is_not_a_mapping_is_refused_at_its_root():
    with pytest.raises(InvalidInput) as raised:
        validated(_Scenario, ["not", "a", "mapping"], prefix="scenario")
    assert raised.value.field == "scenario"


def test_a_misspelt_field_is_named_rather_than_the_field_it_leaves_missing():
    with pytest.raises(InvalidInput) as raised:
        validated(_Scenario, {"nmae": "a", "inject": []})
    assert (raised.value.field, raised.value.problem) == ("nmae", "is not a known field")


def test_a_long_refused_value_is_cut_short_in_the_message():
    with pytest.raises(InvalidInput) as raised:
        validated(_Scenario, {"name": "a", "inject": [{"fault": "x", "ratio": "9" * 10_000}]})
    assert raised.value.problem.endswith("(got '" + "9" * 36 + "...)")
