"""kit.slo: spec parsing and validation, budget math, rule generation, promtool, alert quality, live fire-and-reset."""

from __future__ import annotations

import math
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kit import binaries, pager, procs, prom, sandbox, slo
from kit.config import REPO_ROOT
from kit.errors import InvalidInput
from kit.shop import faults
from kit.timescale import parse_duration

SPECS = Path(__file__).parent / "specs"
GOLDEN = Path(__file__).parent / "golden"
CHECKOUT = REPO_ROOT / "slos" / "checkout-availability.yml"
CATALOG = REPO_ROOT / "slos" / "catalog-latency.yml"

objectives = st.floats(min_value=0.5, max_value=slo.MAX_OBJECTIVE)
windows_s = st.floats(min_value=3600, max_value=90 * 86400)


# --------------------------------------------------------------------------- specs


def test_kit_yaml_parses_into_the_model():
    spec = slo.load_spec(CHECKOUT)
    assert (spec.name, spec.service, spec.objective, spec.window) == ("checkout-availability", "shop", 0.999, "30d")
    assert spec.sli == slo.AvailabilitySLI(
        total='http_requests_total{job="shop", route="/checkout"}',
        bad='http_requests_total{job="shop", route="/checkout", code=~"5.."}',
    )
    assert spec.budget == 0.001 and spec.window_seconds == 30 * 86400
    latency = slo.load_spec(CATALOG)
    assert latency.sli == slo.LatencySLI("http_request_duration_seconds", '{job="shop", route="/catalog"}', 0.25)


def test_openslo_gives_the_same_model_as_the_kit_format():
    assert slo.load_spec(SPECS / "good" / "checkout-openslo.yml") == slo.load_spec(CHECKOUT)


def test_openslo_good_expression_with_window_placeholder_and_target_percent():
    spec = slo.load_spec(SPECS / "good" / "checkout-openslo-good-expr.yml")
    assert spec.objective == pytest.approx(0.995) and spec.window == "28d"
    good = '(sum(rate(http_requests_total{job="shop", route="/checkout", code!~"5.."}[1h])))'
    total = '(sum(rate(http_requests_total{job="shop", route="/checkout"}[1h])))'
    assert slo.sli_error_expr(spec, "1h") == f"1 - (({good} or (0 * {total})) / {total})"


def test_spec_from_text_and_mapping():
    text = CHECKOUT.read_text()
    assert slo.load_spec(text) == slo.load_spec(yaml.safe_load(text)) == slo.load_spec(str(CHECKOUT))


def test_kit_format_is_one_document_and_load_specs_returns_it(tmp_path):
    assert slo.load_specs(CHECKOUT) == [slo.load_spec(CHECKOUT)]
    two = tmp_path / "two.yml"
    two.write_text(CHECKOUT.read_text() + "---\n" + CATALOG.read_text())
    with pytest.raises(InvalidInput, match=f"^{two}: holds 2 YAML documents; the kit's format is one document"):
        slo.load_specs(two)


def test_missing_file_names_the_path():
    with pytest.raises(InvalidInput, match="path: cannot read"):
        slo.load_spec("nowhere/checkout.yml")


def _bad_cases():
    for path in sorted((SPECS / "bad").glob("*.yml")):
        first = path.read_text().splitlines()[0]
        assert first.startswith("# expect: "), f"{path.name} needs a '# expect: <message>' first line"
        yield pytest.param(path, first.removeprefix("# expect: "), id=path.stem)


@pytest.mark.parametrize("path,expected", list(_bad_cases()))
def test_bad_spec_is_rejected_with_a_message_naming_the_field(path, expected):
    with pytest.raises(InvalidInput) as caught:
        slo.load_spec(path)
    error = caught.value
    assert expected in str(error)
    assert len(str(error).splitlines()) == 1
    assert str(error).startswith(str(path)) and error.source.startswith(str(path))  # the file comes first
    assert f"{error.field}: {error.problem}" in str(error) if error.field else str(error).endswith(error.problem)


def test_there_are_at_least_ten_distinct_bad_specs():
    messages = {expected for _, expected in (case.values for case in _bad_cases())}
    assert len(messages) >= 10


def test_error_expressions():
    total = 'sum(rate(http_requests_total{job="shop", route="/checkout"}[5m]))'
    assert slo.sli_error_expr(slo.load_spec(CHECKOUT), "5m") == (
        f'(sum(rate(http_requests_total{{job="shop", route="/checkout", code=~"5.."}}[5m])) or (0 * {total})) / {total}'
    )
    assert slo.sli_error_expr(slo.load_spec(CATALOG), "5m") == (
        '1 - (sum(rate(http_request_duration_seconds_bucket{job="shop", route="/catalog", le=~"0[.]250*"}[5m])) / '
        'sum(rate(http_request_duration_seconds_count{job="shop", route="/catalog"}[5m])))'
    )


UP_SLI = CHECKOUT.read_text().replace(
    'bad: http_requests_total{job="shop", route="/checkout", code=~"5.."}',
    "bad: sum(count_over_time(up[{{window}}])) - sum(sum_over_time(up[{{window}}]))").replace(
    'total: http_requests_total{job="shop", route="/checkout"}', "total: sum(count_over_time(up[{{window}}]))")


def test_every_query_keeps_its_meaning_inside_the_ratio():
    expr = slo.sli_error_expr(slo.load_spec(UP_SLI), "5m")
    bad, total = "(sum(count_over_time(up[5m])) - sum(sum_over_time(up[5m])))", "(sum(count_over_time(up[5m])))"
    assert expr == f"({bad} or (0 * {total})) / {total}"


def test_bool_gauge_availability_sli_records_zero_and_fires_nothing_when_every_target_is_up():
    """The issue's instance: unparenthesised, it recorded 119 over 5 minutes and all four alerts fired."""
    spec = slo.load_spec(UP_SLI)
    rules = slo.generate_rules(spec)
    records = [r["record"] for r in rules["groups"][0]["rules"]]
    labels = 'slo="checkout-availability", service="shop"'
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
             "group_eval_order": [g["name"] for g in rules["groups"]],
             "tests": [{"interval": "15s",
                        "input_series": [{"series": f'up{{job="shop", instance="{i}"}}', "values": "1x400"}
                                         for i in ("a", "b")],
                        "promql_expr_test": [{"expr": f"{r}{{{labels}}}", "eval_time": "90m",
                                              "exp_samples": [{"labels": f"{r}{{{labels}}}", "value": 0}]}
                                             for r in records],
                        "alert_rule_test": [{"eval_time": t, "alertname": "CheckoutAvailabilityErrorBudgetBurn",
                                             "exp_alerts": []} for t in ("5m", "1h", "90m")]}]}
    result = slo.promtool(["test", "rules", "tests.yml"], {"rules.yml": rules, "tests.yml": tests})
    assert result.passed, result.output
    assert slo.test_rules(spec).passed  # its own generated tests (fed recorded ratios: no counter model)


@pytest.mark.parametrize("bound,spellings", [
    (0.25, ["0.25", "0.250"]), (1, ["1", "1.0", "1.00"]), (1.0, ["1", "1.0"]), (10, ["10", "10.0"]),
    (0.005, ["0.005"]), (1e-05, ["1e-05", "0.00001"]), (2.5, ["2.5"])])
def test_bucket_bound_matches_whatever_the_client_library_wrote(bound, spellings):
    pattern = slo.le_pattern(bound)
    assert "\\" not in pattern, "the pattern goes into a PromQL string unescaped"
    assert all(re.fullmatch(pattern, text) for text in spellings), pattern
    assert not any(re.fullmatch(pattern, text) for text in ("0.3", "11", "0.025", "1.5", "+Inf", "")), pattern



# --------------------------------------------------------------------------- math


def test_budget_textbook_numbers():
    assert slo.error_budget(0.999) == 0.001
    assert slo.budget_minutes(0.999, "30d") == pytest.approx(43.2)
    assert slo.burn_rate(0.0144, 0.999) == pytest.approx(14.4)
    # a 20-minute total outage spends 20/43.2 of a 99.9 %/30d budget
    assert slo.budget_after_incident("20m", 1.0, 0.999, "30d") == pytest.approx(1 - 20 / 43.2)
    assert slo.time_to_exhaustion(14.4, "30d") == pytest.approx(50 * 3600)
    assert slo.time_to_exhaustion(0, "30d") == math.inf


@given(objectives, windows_s)
def test_burning_at_rate_one_for_the_whole_window_spends_exactly_the_budget(objective, window):
    ratio = slo.error_budget(objective)
    assert slo.burn_rate(ratio, objective) == pytest.approx(1)
    assert slo.budget_consumed(ratio, window, objective, window) == pytest.approx(1)


@given(st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=90 * 86400), objectives, windows_s)
def test_consumed_plus_remaining_is_one(ratio, period, objective, window):
    consumed = slo.budget_consumed(ratio, period, objective, window)
    assert consumed >= 0
    assert consumed + slo.budget_remaining(ratio, period, objective, window) == pytest.approx(1)
    assert slo.budget_after_incident(period, ratio, objective, window) == pytest.approx(1 - consumed)


@given(st.floats(min_value=1e-3, max_value=1e4), windows_s, st.floats(min_value=0, max_value=1))
def test_exhaustion_time_times_burn_is_the_window(rate, window, remaining):
    assert slo.time_to_exhaustion(rate, window) * rate == pytest.approx(window)
    assert slo.time_to_exhaustion(rate, window, remaining) * rate == pytest.approx(remaining * window)


@given(st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1),
       st.floats(min_value=0, max_value=86400), objectives)
def test_a_bigger_incident_leaves_less_budget(r1, r2, duration, objective):
    low, high = sorted((r1, r2))
    assert (slo.budget_after_incident(duration, high, objective, "30d")
            <= slo.budget_after_incident(duration, low, objective, "30d"))


# --------------------------------------------------------------------------- burn windows


def test_window_table_reproduces_the_textbook_factors():
    """The Site Reliability Workbook, ch. 5 "Alerting on SLOs", table 5-8: for a 30-day SLO, page at 14.4× over
    1h/5m and 6× over 6h/30m, ticket at 3× over 1d/2h and 1× over 3d/6h; the factors are derived from the
    shipped table's budget shares, not written in it."""
    assert slo.read_budget_policy() == slo.BUDGET_POLICY
    table = [(bw.severity, bw.long, bw.short, bw.factor) for bw in slo.DEFAULT_WINDOWS]
    assert table == [("page", "1h", "5m", 14.4), ("page", "6h", "30m", 6.0),
                     ("ticket", "1d", "2h", 3.0), ("ticket", "3d", "6h", 1.0)]
    assert [bw.budget_spent("30d") for bw in slo.DEFAULT_WINDOWS] == pytest.approx([0.02, 0.05, 0.10, 0.10])


@pytest.mark.parametrize("window,factors", [
    ("30d", [14.4, 6, 3, 1]), ("28d", [13.44, 5.6, 2.8, 0.9333333]), ("4w", [13.44, 5.6, 2.8, 0.9333333]),
    ("7d", [3.36, 1.4, 0.7, 0.2333333])])
def test_factors_follow_the_slo_window(window, factors):
    windows = slo.burn_windows(window)
    days = parse_duration(window) / 86400
    # factor = budget_spent × window / long_window, from the policy's budget shares
    assert [bw.factor for bw in windows] == pytest.approx(
        [p.spent * days * 24 / (parse_duration(p.long) / 3600) for p in slo.BUDGET_POLICY])
    assert [bw.factor for bw in windows] == pytest.approx(factors, abs=1e-6)
    assert [bw.budget_spent(window) for bw in windows] == pytest.approx([0.02, 0.05, 0.10, 0.10])


def test_rules_of_a_28_day_slo_page_on_its_own_budget_shares():
    spec = slo.load_spec(CHECKOUT.read_text().replace("window: 30d", "window: 28d"))
    alerts = slo.generate_rules(spec)["groups"][1]["rules"]
    assert [a["labels"]["burn_factor"] for a in alerts] == ["13.44", "5.6", "2.8", "0.9333"]
    assert "> 13.44\n" in alerts[0]["expr"] and "> 0.933333333\n" in alerts[3]["expr"]
    spent = [a["annotations"]["description"].split("which spends ")[1].split(" of the budget")[0] for a in alerts]
    assert spent == ["2 %", "5 %", "10 %", "10 %"]
    assert "gone within 2d2h" in alerts[0]["annotations"]["summary"]  # 28d / 13.44 = 50 h
    assert "gone within 4w2d" in alerts[3]["annotations"]["summary"]  # 28d / 0.9333 = 30 d
    # a total outage trips the fast page after 13.44 × 0.001 × 3600 s = 48.4 s of its 1-hour window
    table = slo.alert_quality(0.999, slo_window="28d").table
    multi = table[table["strategy"].str.startswith("multi") & (table["scenario"] == "total outage for 1h")]
    assert multi["detection_s"].iloc[0] == 49
    assert slo.test_rules(spec).passed


def test_windows_and_factors_are_configurable():
    custom = (slo.BurnWindow.derive("page", "2h", 0.04), slo.BurnWindow("ticket", "12h", "1h", 2.5))
    assert custom[0] == slo.BurnWindow("page", "2h", "10m", 14.4)
    doc = slo.generate_rules(slo.load_spec(CHECKOUT), windows=custom)
    alerts = doc["groups"][1]["rules"]
    assert [(a["labels"]["long_window"], a["labels"]["short_window"], a["labels"]["burn_factor"]) for a in alerts] == [
        ("2h", "10m", "14.4"), ("12h", "1h", "2.5")]
    assert [r["record"] for r in doc["groups"][0]["rules"]] == [
        "slo:sli_error:ratio_rate10m", "slo:sli_error:ratio_rate1h", "slo:sli_error:ratio_rate2h",
        "slo:sli_error:ratio_rate12h"]


def _policy(**change) -> dict:
    """The shipped policy table with its third row changed."""
    table = yaml.safe_load(slo.POLICY_FILE.read_text())
    table["windows"][2].update(change)
    return table


@pytest.mark.parametrize("change,expected", [
    ({"long": "1x"}, "windows[2].long: '1x' is not a duration"),
    ({"short": "0s"}, "windows[2].short: 0s must be a positive duration"),
    ({"short": "1d"}, "windows[2].short: 1d must be shorter than long (1d)"),
    ({"budget_spent": 10}, "windows[2].budget_spent: input should be less than or equal to 1 (got 10)"),
    ({"severity": "email"}, "windows[2].severity: input should be 'page' or 'ticket' (got 'email')"),
    ({"factor": 3}, "windows[2].factor: is not a known field; allowed here: severity, long, short, budget_spent"),
])
def test_a_bad_policy_table_is_refused_naming_the_entry(change, expected):
    with pytest.raises(InvalidInput) as caught:
        slo.read_budget_policy(_policy(**change))
    assert str(caught.value).startswith(expected)


def test_a_bad_policy_file_names_the_file(tmp_path):
    path = tmp_path / "windows.yaml"
    path.write_text(yaml.safe_dump({"source": "ours", "windows": []}))
    with pytest.raises(InvalidInput) as caught:
        slo.read_budget_policy(path)
    assert str(caught.value).startswith(f"{path}: windows: list should have at least 1 item")
    assert slo.read_budget_policy(_policy(long="2d", short="4h"))[2] == slo.BudgetShare("ticket", "2d", 0.1, "4h")


@given(st.floats(min_value=0.001, max_value=1), st.sampled_from(["1h", "6h", "1d", "3d"]))
def test_factor_and_budget_spent_round_trip(spent, long):
    bw = slo.BurnWindow.derive("page", long, spent)
    assert bw.budget_spent("30d") == pytest.approx(spent)


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize("spec_path", [CHECKOUT, CATALOG], ids=["availability", "latency"])
def test_generated_rules_match_golden_file(spec_path):
    text = slo.to_yaml(slo.generate_rules(slo.load_spec(spec_path)))
    golden = GOLDEN / f"{spec_path.stem}.rules.yml"
    if os.environ.get("KIT_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; create it with KIT_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), "rules changed; review and rerun with KIT_UPDATE_GOLDEN=1"


def test_alerts_carry_severity_window_labels_runbook_and_an_actionable_summary():
    doc = slo.generate_rules(slo.load_spec(CHECKOUT))
    records = [r["record"] for r in doc["groups"][0]["rules"]]
    assert records == [f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")]
    assert all(r["labels"] == {"slo": "checkout-availability", "service": "shop"} for r in doc["groups"][0]["rules"])
    alerts = doc["groups"][1]["rules"]
    assert [a["labels"]["severity"] for a in alerts] == ["page", "page", "ticket", "ticket"]
    page = alerts[0]
    assert page["labels"] == {"severity": "page", "long_window": "1h", "short_window": "5m", "burn_factor": "14.4",
                              "slo": "checkout-availability", "service": "shop"}
    assert "slo:sli_error:ratio_rate1h" in page["expr"] and "slo:sli_error:ratio_rate5m" in page["expr"]
    assert "\nand\n" in page["expr"] and page["expr"].count("> 14.4") == 2
    notes = page["annotations"]
    assert notes["runbook_url"] == "runbooks/checkout-errors.md"
    assert "checkout-availability" in notes["summary"] and '$value' in notes["summary"]
    assert "gone within 2d2h" in notes["summary"]
    assert "time-compressed" not in notes["summary"]


def test_default_runbook_url_names_the_slo():
    spec = slo.load_spec(CHECKOUT.read_text().replace("runbook_url: runbooks/checkout-errors.md\n", ""))
    alerts = slo.generate_rules(spec)["groups"][1]["rules"]
    assert {a["annotations"]["runbook_url"] for a in alerts} == {"runbooks/slo-checkout-availability.md"}


def test_time_scale_divides_every_window_and_says_so():
    doc = slo.generate_rules(slo.load_spec(CHECKOUT), time_scale=60, profile="lab")
    assert [r["record"] for r in doc["groups"][0]["rules"]] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5s", "30s", "1m", "2m", "6m", "24m", "1h12m")]
    assert "[5s]" in doc["groups"][0]["rules"][0]["expr"]
    page = doc["groups"][1]["rules"][0]
    assert (page["labels"]["long_window"], page["labels"]["short_window"]) == ("1m", "5s")
    assert "[time-compressed 60×]" in page["annotations"]["summary"]
    assert "the 1h/5m windows run as 1m/5s" in page["annotations"]["description"]


@pytest.mark.parametrize("profile,scale,message", [
    ("realistic", 60, "60× turns the 5m window into 5 s, shorter than 4 scrapes at the realistic profile's 15s "
                      "scrape interval"),
    ("lab", 3600, "3600× turns the 5m window into 0.0833 s, shorter than 4 scrapes at the lab profile's 1s"),
])
def test_time_scale_that_squeezes_a_window_below_the_profiles_scrapes_is_refused(profile, scale, message):
    with pytest.raises(InvalidInput) as caught:
        slo.generate_rules(slo.load_spec(CHECKOUT), time_scale=scale, profile=profile)
    assert str(caught.value).startswith(f"time_scale: {message}")
    assert "could never fire" in str(caught.value)
    most = {"realistic": 5, "lab": 75}[profile]
    assert f"use a time scale of at most {most}" in str(caught.value)
    slo.generate_rules(slo.load_spec(CHECKOUT), time_scale=most, profile=profile)


def test_validate_and_generate_give_one_verdict_on_the_slo_window():
    for window in ("0d", "1d", "2d"):
        with pytest.raises(InvalidInput, match=f"^window: {window} is shorter than the longest alert window \\(3d"):
            slo.load_spec(CHECKOUT.read_text().replace("window: 30d", f"window: {window}"))
    spec = slo.load_spec(CHECKOUT.read_text().replace("window: 30d", "window: 3d"))
    assert slo.check_rules(slo.generate_rules(spec)).passed
    longer = slo.DEFAULT_WINDOWS + (slo.BurnWindow("ticket", "7d", "12h", 1.0),)
    with pytest.raises(InvalidInput, match="^window: 3d is shorter than the longest alert window \\(7d"):
        slo.generate_rules(spec, windows=longer)


@pytest.mark.parametrize("spec_path", [CHECKOUT, CATALOG, SPECS / "good" / "checkout-openslo-good-expr.yml"])
@pytest.mark.parametrize("scale", [1, 60])
def test_promtool_accepts_generated_rules(spec_path, scale):
    result = slo.check_rules(slo.generate_rules(slo.load_spec(spec_path), time_scale=scale, profile="lab"))
    assert result.passed, result.output
    assert "SUCCESS: 11 rules found" in result.output


@pytest.mark.parametrize("spec_path,profile,scale", [
    (CHECKOUT, "realistic", 1), (CATALOG, "realistic", 1), (CHECKOUT, "lab", 60), (CATALOG, "lab", 15),
    (SPECS / "good" / "checkout-openslo-good-expr.yml", "lab", 15)])
def test_generated_promtool_unit_tests_pass(spec_path, profile, scale):
    result = slo.test_rules(slo.load_spec(spec_path), time_scale=scale, profile=profile)
    assert result.passed, result.output


def test_generated_unit_tests_start_from_raw_counters_including_series_that_appear_later():
    tests = slo.generate_tests(slo.load_spec(CHECKOUT), profile="realistic")
    assert tests["evaluation_interval"] == "15s"
    steady, outage, restart = tests["tests"]
    ok = 'http_requests_total{code="200", job="shop", route="/checkout"}'
    failed = 'http_requests_total{code="500", job="shop", route="/checkout"}'
    assert {s["series"]: s["values"] for s in steady["input_series"]} == {ok: "1+1x3", failed: "_x4"}
    assert [p["exp_samples"][0]["value"] for p in steady["promql_expr_test"]] == [0.0] * 7
    # 241 scrapes (1 h) of good traffic, then only failures: the failing series is created part-way
    assert {s["series"]: s["values"] for s in outage["input_series"]} == {ok: "1+1x240 241x21", failed: "_x241 1+1x21"}
    assert {s["series"]: s["values"] for s in restart["input_series"]} == {ok: "_x4", failed: "1+1x3"}
    assert [p["exp_samples"][0]["value"] for p in restart["promql_expr_test"]] == [1.0] * 7
    firing = {t["eval_time"]: sorted(a["exp_labels"]["burn_factor"] for a in t["exp_alerts"])
              for t in outage["alert_rule_test"]}
    # the 1h/5m page has a full hour of good traffic in its long window: it fires once the failures exceed
    # 1.44 % of the hour (52 s, the 4th failed scrape), later than the tickets whose long windows hold less
    assert firing["1h45s"] == ["1", "3", "6"] and firing["1h1m"] == ["1", "14.4", "3", "6"]


def _promtool_test(tmp_path, rules: dict, tests: dict):
    (tmp_path / "rules.yml").write_text(slo.to_yaml(rules))
    (tmp_path / "tests.yml").write_text(slo.to_yaml(tests))
    return subprocess.run([str(binaries.path("promtool")), "test", "rules", "tests.yml"], cwd=tmp_path,
                          capture_output=True, text=True)


GOOD_FORM = CHECKOUT.read_text().replace('bad: http_requests_total{job="shop", route="/checkout", code=~"5.."}',
                                         'good: http_requests_total{job="shop", route="/checkout", code!~"5.."}')


@pytest.mark.parametrize("broken", ["no fallback for a series not created yet", "queries pasted unparenthesised",
                                    "the Python client's bucket spelling only"])
def test_generated_unit_tests_catch_a_broken_recording_rule(tmp_path, broken):
    bucket = "bucket" in broken
    spec = slo.load_spec(CATALOG.read_text().replace("threshold: 0.25", "threshold: 1") if bucket else GOOD_FORM)
    rules = slo.generate_rules(spec)
    for rule in rules["groups"][0]["rules"]:
        window = rule["record"].rsplit("rate", 1)[1]
        good = f'sum(rate(http_requests_total{{job="shop", route="/checkout", code!~"5.."}}[{window}]))'
        total = f'sum(rate(http_requests_total{{job="shop", route="/checkout"}}[{window}]))'
        rule["expr"] = (rule["expr"].replace(f'le=~"{slo.le_pattern(1)}"', 'le="1.0"') if bucket else
                        f"1 - ({good} / {total})" if "fallback" in broken else f"1 - {good} / {total}")
    assert _promtool_test(tmp_path, rules, slo.generate_tests(spec)).returncode != 0
    assert slo.test_rules(spec).passed


def test_alerts_that_cannot_fire_at_a_low_objective_are_expected_never_to_fire():
    # at 90 % the budget is 10 %: 14.4× would need 144 % errors
    spec = slo.load_spec(CHECKOUT.read_text().replace("objective: 0.999", "objective: 0.9"))
    after_steady, after_restart = [{a["exp_labels"]["burn_factor"] for t in outage["alert_rule_test"]
                                    for a in t["exp_alerts"]} for outage in slo.generate_tests(spec)["tests"][1:]]
    assert after_restart == {"6", "3", "1"} and after_steady <= after_restart
    result = slo.test_rules(spec)
    assert result.passed, result.output


def test_generated_unit_tests_catch_a_wrong_factor(tmp_path):
    spec = slo.load_spec(CHECKOUT)
    wrong = (slo.BurnWindow("page", "1h", "5m", 30),) + slo.DEFAULT_WINDOWS[1:]
    done = _promtool_test(tmp_path, slo.generate_rules(spec, windows=wrong), slo.generate_tests(spec))
    assert done.returncode != 0 and "FAILED" in done.stdout + done.stderr


# --------------------------------------------------------------------------- alert quality


def test_total_outage_trips_the_page_windows_when_the_arithmetic_says():
    outage = slo.default_error_profiles(0.999)[0]
    fast, slow = slo.DEFAULT_WINDOWS[:2]
    first = slo.simulate(slo.multiwindow_strategy(0.999, [fast]), outage)
    second = slo.simulate(slo.multiwindow_strategy(0.999, [slow]), outage)
    assert first.detection == 52  # 0.0144 × 3600 s = 51.84 s, first 1 s evaluation after it
    assert second.detection == 130  # 0.006 × 21600 s = 129.6 s: 2 min 10 s
    # the short window resets the alert: 5m × (1 − 0.0144) and 30m × (1 − 0.006) after the outage ends
    assert first.reset == 296 and second.reset == 1790


@settings(max_examples=25, deadline=None)
@given(st.floats(min_value=0.99, max_value=0.9999), st.sampled_from([0, 1]))
def test_detection_is_within_one_evaluation_of_the_arithmetic(objective, index):
    bw = slo.DEFAULT_WINDOWS[index]
    outcome = slo.simulate(slo.multiwindow_strategy(objective, [bw]), slo.ErrorProfile("outage", 86400, lambda t: 1.0))
    predicted = bw.factor * slo.error_budget(objective) * parse_duration(bw.long)
    assert predicted <= outcome.detection <= predicted + 1


def test_alert_quality_table_and_scores():
    quality = slo.alert_quality(0.999)
    table = quality.table.set_index(["strategy", "scenario"])
    plain, single, multi = quality.scores["strategy"]
    assert list(table.columns) == ["should_page", "fired", "detection_s", "reset_s"]
    truth = table.loc[multi, "should_page"].to_dict()
    assert truth == {"total outage for 1h": True, "10× burn for 6h": True,
                     "2× slow burn for 3d": False, "100 % errors for 30s": False}
    assert table.loc[(multi, "total outage for 1h"), "detection_s"] == 52
    assert table.loc[(multi, "10× burn for 6h"), "detection_s"] == pytest.approx(0.6 * 21600, abs=1)
    assert table.loc[(single, "total outage for 1h"), "reset_s"] == 3549  # no short window: ~1 h to reset
    assert table.loc[(plain, "100 % errors for 30s"), "fired"]  # the naive threshold pages on a blip
    scores = quality.scores.set_index("strategy")
    assert scores.loc[plain].tolist() == [0.5, 1.0]
    assert scores.loc[single].tolist() == [1.0, 0.5]
    assert scores.loc[multi].tolist() == [1.0, 1.0]


# --------------------------------------------------------------------------- the package


def test_slo_modules_import_neither_their_package_nor_each_others_private_names():
    """kit.slo's modules import their siblings directly (no cycle through the package) and only public names."""
    import ast

    folder = Path(slo.__file__).parent
    siblings = {path.stem for path in folder.glob("*.py")} - {"__init__"}
    problems = []
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                package = node.level == 1 and node.module is None
                names = [alias.name for alias in node.names]
                if (package and set(names) - siblings) or (node.level == 2 and (node.module or "").startswith("slo")):
                    problems.append(f"{path.name}:{node.lineno} imports the package kit.slo")
                problems += [f"{path.name}:{node.lineno} imports {name}" for name in names
                             if name.startswith("_") and not name.startswith("__")]
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in siblings
                  and node.attr.startswith("_") and not node.attr.startswith("__")):
                problems.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert problems == []


# --------------------------------------------------------------------------- live


def test_validate_queries_passes_good_and_shows_prometheus_message_for_bad(live):
    for path in (CHECKOUT, CATALOG):
        spec = slo.load_spec(path)
        # the SLI has data on the live shop (for latency: the le label matches the exposition)
        prom.wait_for(slo.sli_error_expr(spec, "10s") + " >= 0", timeout=20, config=live)
        assert slo.validate_queries(spec, live) == []
    broken = CHECKOUT.read_text().replace(
        'bad: http_requests_total{job="shop", route="/checkout", code=~"5.."}',
        'bad: sum by (code (rate(http_requests_total{job="shop"}[{{window}}]))')
    with pytest.raises(InvalidInput, match=r"^sli\.availability\.bad: Prometheus rejected .*parse error"):
        slo.validate_queries(slo.load_spec(broken), live)


@pytest.mark.parametrize("change,warning", [
    (('route="/checkout"}', 'route="/nowhere"}'), "sli.availability.total: no data in Prometheus"),
    (('bad: http_requests_total{job="shop", route="/checkout", code=~"5.."}', 'bad: http_requests_total{job="shop"}'),
     "sli: the error ratio over 5m is"),
    (("threshold: 0.25", "threshold: 0.33\n    buckets: [0.33]"),
     "sli.latency.threshold: the histogram has data but no bucket with le=0.33"),
])
def test_validate_queries_warns_when_a_live_sli_cannot_work(live, change, warning):
    prom.wait_for(slo.sli_error_expr(slo.load_spec(CHECKOUT), "10s") + " >= 0", timeout=20, config=live)
    text = (CATALOG if "threshold" in change[0] else CHECKOUT).read_text().replace(*change)
    warnings = slo.validate_queries(slo.load_spec(text), live)
    assert len(warnings) == 1 and warnings[0].startswith(warning), warnings


def _page_rows(since: float, live, status: str, long_window: str):
    frame = pager.notifications(live, since=since)
    if frame.empty:
        return frame
    mask = ((frame["alertname"] == "CheckoutAvailabilityErrorBudgetBurn") & (frame["status"] == status)
            & frame["labels"].map(lambda labels: labels.get("long_window") == long_window))
    return frame[mask]


def _wait_page(since: float, live, status: str, long_window: str, timeout: float):
    if procs.wait_until(lambda: len(_page_rows(since, live, status, long_window)) > 0, timeout, 0.2):
        return _page_rows(since, live, status, long_window).iloc[0]
    pager.wait_for_page("CheckoutAvailabilityErrorBudgetBurn", status=status, since=since, timeout=0, config=live)
    raise AssertionError(f"pages for other windows arrived, but no {status} page for long_window={long_window}")


def test_live_total_outage_pages_and_resets(clean_faults):
    live = clean_faults
    # 60×: the 1h/5m page runs as 1m/5s, still five scrapes in the short window at the lab profile's 1 s
    slo.install(slo.load_spec(CHECKOUT), time_scale=60, config=live)
    try:
        since = time.time()
        faults.set_fault("errors", ratio=1.0, route="checkout", config=live)
        page = _wait_page(since, live, "firing", "1m", timeout=30)
        assert page["severity"] == "page" and page["runbook_url"] == "runbooks/checkout-errors.md"
        assert "time-compressed 60×" in page["summary"]
        detected = page["received_at"].timestamp() - since
        faults.clear_faults(config=live)
        cleared = time.time()
        _wait_page(since, live, "resolved", "1m", timeout=30)
        print(f"page after {detected:.1f} s, resolved {time.time() - cleared:.1f} s after the fault was cleared")
    finally:
        faults.clear_faults(config=live)
        sandbox.remove_rules("slo-checkout-availability", config=live)


def test_rules_installed_for_a_block_go_when_it_fails_and_earlier_rules_of_that_name_come_back(live):
    spec = slo.load_spec(CHECKOUT)
    loaded = sandbox.status(live).rules_loaded
    rule_file = live.paths.installed_rules / "slo-block-test.yml"
    with pytest.raises(RuntimeError, match="no page"):
        with slo.rules_installed(spec, time_scale=60, name="slo-block-test", config=live) as status:
            assert status.rules_loaded > loaded and rule_file.is_file()
            raise RuntimeError("no page came")
    assert not rule_file.exists() and sandbox.status(live).rules_loaded == loaded

    slo.install(spec, name="slo-block-test", config=live)  # at the profile's time scale, as `kit slo apply` does
    try:
        applied = yaml.safe_load(rule_file.read_text())
        with slo.rules_installed(spec, time_scale=60, name="slo-block-test", config=live):
            assert yaml.safe_load(rule_file.read_text()) != applied
        assert yaml.safe_load(rule_file.read_text()) == applied
    finally:
        sandbox.remove_rules("slo-block-test", config=live)
