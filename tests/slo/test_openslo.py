"""kit.slo.openslo (formerly kit.openslo): OpenSLO v1 files (several documents, references, threshold, gauge and raw
metrics) into SLOSpec.

The bad files under specs/bad are checked, one message each, by test_slo; here: what the good files become,
what the generated queries compute (run by promtool on known series), and where errors point.
"""

from pathlib import Path

import pytest

from kit import slo
from kit.config import REPO_ROOT
from kit.errors import InvalidInput
from kit.slo import openslo

GOOD = Path(__file__).parent / "specs" / "good"
CHECKOUT = REPO_ROOT / "slos" / "checkout-availability.yml"


def _slo(indicator: dict, objective: dict, **spec) -> dict:
    """A one-document OpenSLO SLO with an inline indicator spec."""
    return {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": "probe"},
            "spec": {"service": "shop", "timeWindow": [{"duration": "28d", "isRolling": True}],
                     "indicator": {"spec": indicator}, "objectives": [objective], **spec}}


def _prom(query: str) -> dict:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def test_multi_document_file_resolves_its_references_into_one_slo_per_objective():
    specs = slo.load_specs(GOOD / "checkout-openslo-multidoc.yml")
    kit_format = slo.load_spec(CHECKOUT)
    assert [(s.name, s.objective, s.window) for s in specs] == [
        ("checkout-internal", 0.999, "4w"), ("checkout-customer-promise", pytest.approx(0.995), "4w")]
    for spec in specs:
        assert (spec.service, spec.sli, spec.runbook_url) == ("shop", kit_format.sli, kit_format.runbook_url)


def test_load_spec_refuses_a_file_of_several_slos_and_names_them():
    path = GOOD / "checkout-openslo-multidoc.yml"
    with pytest.raises(InvalidInput) as caught:
        slo.load_spec(path)
    assert str(caught.value).startswith(f"{path}: holds 2 SLOs (checkout-internal, checkout-customer-promise); "
                                        "this needs exactly one")


def test_a_yaml_list_of_objects_with_a_gauge_indicator():
    (spec,) = slo.load_specs(GOOD / "shop-up-openslo-list.yml")
    assert (spec.name, spec.window, spec.objective) == ("shop-scrapable", "7d", 0.99)
    good, total = ('sum(sum_over_time((sum(up{job="shop"}))[1h:]))', 'sum(sum_over_time((count(up{job="shop"}))[1h:]))')
    assert slo.sli_error_expr(spec, "1h") == f"1 - ((({good}) or (0 * ({total}))) / ({total}))"


def test_an_error_in_a_list_item_names_the_item():
    text = (GOOD / "shop-up-openslo-list.yml").read_text().replace("service: shop", "service: The Shop")
    with pytest.raises(InvalidInput) as caught:
        slo.load_specs(text)
    assert str(caught.value).startswith("[1].spec.service: 'The Shop' is not a valid name")


def test_threshold_metric_counts_samples_that_miss_the_objective():
    (spec,) = slo.load_specs(GOOD / "catalog-latency-openslo-threshold.yml")
    assert (spec.name, spec.window, spec.objective) == ("catalog-p99", "30d", 0.99)  # 1M is 30 days
    p99 = ('histogram_quantile(0.99, sum by (le) '
           '(rate(http_request_duration_seconds_bucket{job="shop", route="/catalog"}[1m])))')
    bad, total = f"sum(sum_over_time((({p99}) >= bool 0.25)[5m:]))", f"sum(count_over_time(({p99})[5m:]))"
    assert slo.sli_error_expr(spec, "5m") == f"(({bad}) or (0 * ({total}))) / ({total})"


@pytest.mark.parametrize("op,missed", [("lt", ">="), ("lte", ">"), ("gt", "<="), ("gte", "<")])
def test_every_threshold_operator_marks_the_opposite_samples_bad(op, missed):
    (spec,) = slo.load_specs(_slo({"thresholdMetric": _prom("queue_depth")}, {"op": op, "value": 40, "target": 0.9}))
    assert f"((queue_depth) {missed} bool 40)[1h:]" in slo.sli_error_expr(spec, "1h")


def test_generated_queries_compute_the_error_ratio_on_known_series():
    # One hour of 1-minute samples, evaluated at 59m: every subquery step holds exactly one sample.
    threshold = slo.load_specs(_slo({"thresholdMetric": _prom('p99_seconds{job="shop"}')},
                                    {"op": "lt", "value": 0.25, "target": 0.99}))[0]
    gauge = slo.load_specs(_slo({"ratioMetric": {"counter": False, "good": _prom('sum(up{job="shop"})'),
                                                 "total": _prom('count(up{job="shop"})')}}, {"target": 0.99}))[0]
    raw = slo.load_specs(_slo({"ratioMetric": {"rawType": "failure", "raw": _prom('error_ratio{job="shop"}')}},
                              {"target": 0.99}))[0]
    tests = {
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                # 40 good samples, then 20 exactly at the threshold, which "lt 0.25" counts as bad
                {"series": 'p99_seconds{job="shop"}', "values": "0.1x39 0.25x19"},
                # two targets; b is down for the last 15 of 60 samples: 105 of 120 up
                {"series": 'up{job="shop", instance="a"}', "values": "1x59"},
                {"series": 'up{job="shop", instance="b"}', "values": "1x44 0x14"},
                # a stored error ratio: 0 for 30 samples, then 0.1 for 30
                {"series": 'error_ratio{job="shop"}', "values": "0x29 0.1x29"},
            ],
            "promql_expr_test": [
                {"expr": slo.sli_error_expr(threshold, "1h"), "eval_time": "59m",
                 "exp_samples": [{"labels": "{}", "value": 20 / 60}]},
                {"expr": slo.sli_error_expr(gauge, "1h"), "eval_time": "59m",
                 "exp_samples": [{"labels": "{}", "value": 1 - 105 / 120}]},
                {"expr": slo.sli_error_expr(raw, "1h"), "eval_time": "59m",
                 "exp_samples": [{"labels": "{}", "value": 0.05}]},
            ],
        }],
    }
    result = slo.promtool(["test", "rules", "tests.yml"], {"tests.yml": {"rule_files": [], **tests}})
    assert result.passed, result.output


def test_raw_success_ratio_is_subtracted_from_one():
    (spec,) = slo.load_specs(_slo({"ratioMetric": {"rawType": "success", "raw": _prom("availability")}},
                                  {"targetPercent": 99.9}))
    good, total = "sum(sum_over_time((availability)[1h:]))", "sum(count_over_time((availability)[1h:]))"
    assert slo.sli_error_expr(spec, "1h") == f"1 - ((({good}) or (0 * ({total}))) / ({total}))"


def test_generated_rules_for_openslo_files_pass_promtool():
    for path in sorted(GOOD.glob("*openslo*.yml")):
        for spec in slo.load_specs(path):
            result = slo.check_rules(slo.generate_rules(spec, time_scale=60, profile="lab"))
            assert result.passed, f"{path.name}: {result.output}"


@pytest.mark.parametrize("text,seconds", [("28d", 28 * 86400), ("4w", 28 * 86400), ("1M", 30 * 86400),
                                          ("1Q", 90 * 86400), ("1Y", 365 * 86400), ("72h", 72 * 3600)])
def test_duration_shorthand(text, seconds):
    from kit.timescale import parse_duration

    assert parse_duration(openslo.window(text, "spec.timeWindow[0].duration")) == seconds


def test_a_long_unit_shorthand_still_gets_the_kits_verdict_on_the_window():
    with pytest.raises(InvalidInput, match=r"^spec\.timeWindow\[0\]\.duration: 0d is shorter than the longest"):
        openslo.window("0M", "spec.timeWindow[0].duration")


@pytest.mark.parametrize("change,expected", [
    ({"objectives": [{"target": 0.99}, {"target": 0.999}]},
     "spec.objectives: a thresholdMetric SLI takes exactly one objective"),
    ({"objectives": [{"op": "below", "value": 1, "target": 0.99}]},
     "spec.objectives[0].op: input should be 'lt', 'lte', 'gt' or 'gte' (got 'below')"),
    ({"objectives": [{"op": "lt", "value": "fast", "target": 0.99}]},
     "spec.objectives[0].value: input should be a valid number (got 'fast')"),
    ({"indicator": {"spec": {"thresholdMetric": _prom("rate(x[{{window}}])")}}},
     "spec.indicator.spec.thresholdMetric.metricSource.spec.query: {{window}} cannot be used here"),
])
def test_threshold_mistakes_name_the_field(change, expected):
    doc = _slo({"thresholdMetric": _prom("queue_depth")}, {"op": "lt", "value": 40, "target": 0.9})
    doc["spec"].update(change)
    with pytest.raises(InvalidInput) as caught:
        slo.load_specs(doc)
    assert str(caught.value).startswith(expected)


@pytest.mark.parametrize("indicator,objective,expected", [
    ({"ratioMetric": {"good": _prom("a_total"), "total": _prom("b_total")}}, {"target": 0.99, "value": 3},
     "spec.objectives[0].value: compares a thresholdMetric's samples"),
    ({"ratioMetric": {"good": _prom("a_total")}}, {"target": 0.99},
     "spec.indicator.spec.ratioMetric.total: is required"),
    ({"ratioMetric": {"raw": _prom("r"), "total": _prom("b_total"), "rawType": "success"}}, {"target": 0.99},
     "spec.indicator.spec.ratioMetric: give raw (with rawType) or good/bad with total, not both"),
    ({"ratioMetric": {"raw": _prom("r"), "rawType": "ok"}}, {"target": 0.99},
     "spec.indicator.spec.ratioMetric.rawType: input should be 'success' or 'failure' (got 'ok')"),
    ({"ratioMetric": {"counter": "yes", "good": _prom("a_total"), "total": _prom("b_total")}}, {"target": 0.99},
     "spec.indicator.spec.ratioMetric.counter: input should be a valid boolean (got 'yes')"),
    ({"ratioMetric": {"good": {"metricSource": {"spec": {"query": "a_total"}}}, "total": _prom("b_total")}},
     {"target": 0.99}, "spec.indicator.spec.ratioMetric.good.metricSource.type: is required (Prometheus)"),
    ({"ratioMetric": {"good": {"metricSource": {"type": "Prometheus", "spec": {"promql": "a_total"}}},
                      "total": _prom("b_total")}},
     {"target": 0.99},
     "spec.indicator.spec.ratioMetric.good.metricSource.spec.promql: is not a known field; allowed here: query"),
    ({"ratioMetric": {"good": _prom("a_total"), "total": _prom("b_total")},
      "thresholdMetric": _prom("c")}, {"target": 0.99},
     "spec.indicator.spec: give ratioMetric or thresholdMetric, not both"),
])
def test_indicator_mistakes_name_the_field(indicator, objective, expected):
    with pytest.raises(InvalidInput) as caught:
        slo.load_specs(_slo(indicator, objective))
    assert str(caught.value).startswith(expected)


def test_a_data_source_of_another_type_than_the_metric_source_says_is_refused():
    sources = [{"apiVersion": "openslo/v1", "kind": "DataSource", "metadata": {"name": "prom"},
                "spec": {"type": "Prometheus", "connectionDetails": {"url": "http://127.0.0.1:9090"}}},
               _slo({"ratioMetric": {"good": {"metricSource": {"metricSourceRef": "prom", "type": "Datadog",
                                                                "spec": {"query": "a_total"}}},
                                     "total": _prom("b_total")}}, {"target": 0.99})]
    with pytest.raises(InvalidInput, match=r"^\[1\]\.spec\.indicator\.spec\.ratioMetric\.good\.metricSource\.type: "
                                           "'Datadog' disagrees with DataSource 'prom'"):
        slo.load_specs(sources)


def test_two_slis_of_one_name_are_refused_naming_both_documents(tmp_path):
    path = tmp_path / "twice.yml"
    sli = (GOOD / "checkout-openslo-multidoc.yml").read_text().split("---")[2]
    path.write_text("---".join([sli, sli, "\n" + (GOOD / "checkout-openslo-multidoc.yml").read_text().split("---")[4]]))
    with pytest.raises(InvalidInput) as caught:
        slo.load_specs(path)
    assert str(caught.value) == (f"{path} (document 2): metadata.name: a second SLI named 'checkout-server-errors' "
                                 f"(the first is in {path} (document 1)); names must be unique")


def test_several_objectives_without_display_names_are_numbered():
    doc = _slo({"ratioMetric": {"good": _prom("a_total"), "total": _prom("b_total")}}, {"target": 0.99})
    doc["spec"]["objectives"].append({"target": 0.999})
    assert [s.name for s in slo.load_specs(doc)] == ["probe-0", "probe-1"]


def test_an_error_found_after_parsing_names_the_field_as_the_file_spells_it(tmp_path):
    path = tmp_path / "short.yml"
    spec = slo.load_specs(GOOD / "checkout-openslo-multidoc.yml")[1]
    assert spec.invalid("objective", "x").field == "spec.objectives[1].targetPercent"
    assert spec.invalid("window", "x").field == "spec.timeWindow[0].duration"
    path.write_text((GOOD / "checkout-openslo-multidoc.yml").read_text().replace("duration: 4w", "duration: 1d"))
    with pytest.raises(InvalidInput) as caught:
        slo.load_specs(path)
    assert str(caught.value).startswith(f"{path} (document 5): spec.timeWindow[0].duration: 1d is shorter than "
                                        "the longest alert window (3d")


def test_live_query_check_names_the_query_field_of_the_referenced_sli(live, tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text((GOOD / "checkout-openslo-multidoc.yml").read_text().replace(
        'query: http_requests_total{job="shop", route="/checkout", code=~"5.."}',
        'query: sum by (code (rate(http_requests_total{job="shop"}[{{window}}]))'))
    with pytest.raises(InvalidInput) as caught:
        slo.validate_queries(slo.load_specs(path)[0], live)
    assert str(caught.value).startswith(
        f"{path} (document 5): spec.ratioMetric.bad.metricSource.spec.query (SLI checkout-server-errors, "
        "document 3): Prometheus rejected")

