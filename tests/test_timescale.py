import pytest
from hypothesis import given, strategies as st

from kit.errors import InvalidInput
from kit.timescale import format_duration, range_windows, parse_duration, scale_duration, scale_expr, scale_rule_groups


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), ("1d", 86400)])
def test_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5", "m5", "1.5h", "5 m", "-5m"])
def test_parse_rejects(bad):
    with pytest.raises(InvalidInput, match="not a duration"):
        parse_duration(bad)


@given(st.integers(min_value=1, max_value=10**9))
def test_format_roundtrips(ms):
    assert parse_duration(format_duration(ms / 1000)) == pytest.approx(ms / 1000)


def test_scale_expr_compresses_windows_subqueries_and_offsets():
    expr = 'sum(rate(x{route="/a"}[5m])) / sum(rate(y[1h30m] offset 1h)) + max_over_time(z[10m:1m])'
    assert scale_expr(expr, 15) == (
        'sum(rate(x{route="/a"}[20s])) / sum(rate(y[6m] offset 4m)) + max_over_time(z[40s:4s])'
    )
    assert scale_expr(expr, 1) == expr


def test_scale_never_goes_below_minimum():
    assert scale_duration("2s", 15) == "1s"
    assert scale_expr("rate(x[5s])", 60) == "rate(x[1s])"


def test_scale_rule_groups_touches_for_and_expr_only():
    doc = {"groups": [{"name": "g", "interval": "30s", "rules": [
        {"alert": "A", "expr": "rate(x[1m]) > 0", "for": "2m", "labels": {"window": "1m"}}]}]}
    out = scale_rule_groups(doc, 60)
    rule = out["groups"][0]["rules"][0]
    assert rule == {"alert": "A", "expr": "rate(x[1s]) > 0", "for": "2s", "labels": {"window": "1m"}}
    assert out["groups"][0]["interval"] == "1s"
    assert doc["groups"][0]["rules"][0]["for"] == "2m", "the input must not be modified"


def test_range_windows_lists_every_window_in_seconds():
    assert range_windows('sum(rate(x[1m])) / sum(rate(y[60s])) + max_over_time(z[5m:1m])') == [60, 60, 300]
    assert range_windows("up") == []
