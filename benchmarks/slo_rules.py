"""SLO rule generation and promtool test time, and the alert-quality table (detection and reset per strategy).

Usage: .venv/bin/python benchmarks/slo_rules.py

Rule generation is pure Python; `promtool check rules` and `promtool test rules`
run the real binary. The alert-quality table is the simulation kit.slo uses in
lab 03, written here so its figures can be compared with the arithmetic.
"""

from __future__ import annotations

import math
import time

import _common as c

from kit import slo

SPECS = ("checkout-availability", "catalog-latency")


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return c.median(times)


def _fmt(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    return f"{seconds:.0f} s" if seconds < 600 else f"{seconds / 60:.1f} min"


def main() -> None:
    rows = []
    for name in SPECS:
        spec = slo.load_spec(c.REPO / "slos" / f"{name}.yml")
        generate = _median_time(lambda: slo.generate_rules(spec), 20)
        rules = slo.generate_rules(spec)
        check = _median_time(lambda: slo.check_rules(rules), 3)
        test = _median_time(lambda: slo.test_rules(spec), 3)
        assert slo.test_rules(spec).passed, f"promtool test rules failed for {name}"
        rows.append([name, f"{generate * 1000:.1f} ms", f"{check:.2f} s", f"{test:.2f} s"])
        print(f"{name}: generate {generate * 1000:.1f} ms, promtool check {check:.2f} s, promtool test {test:.2f} s")

    quality = slo.alert_quality(0.999)
    table = quality.table
    outcome = [[r.strategy, r.scenario, "yes" if r.should_page else "no", "yes" if r.fired else "no",
                _fmt(r.detection_s), _fmt(r.reset_s)] for r in table.itertuples()]
    scores = [[r.strategy, f"{r.precision:.2f}", f"{r.recall:.2f}"] for r in quality.scores.itertuples()]
    outage = table[(table["scenario"].str.startswith("total outage"))].set_index("strategy")["detection_s"]
    print(table.to_string(index=False))

    fast = slo.BurnWindow("page", "1h", "5m", 14.4)
    slow = slo.BurnWindow("page", "6h", "30m", 6)
    arithmetic = [
        ["14.4× over 1h, total outage", f"{14.4 * 0.001 * 3600:.1f} s",
         _fmt(slo.simulate(slo.multiwindow_strategy(0.999, [fast]), slo.default_error_profiles(0.999)[0]).detection)],
        ["6× over 6h, total outage", f"{6 * 0.001 * 6 * 3600:.1f} s",
         _fmt(slo.simulate(slo.multiwindow_strategy(0.999, [slow]), slo.default_error_profiles(0.999)[0]).detection)],
    ]
    body = "\n\n".join([
        c.table(["spec", "generate rules (median of 20)", "promtool check rules", "promtool test rules"], rows),
        "Detection of a total outage at a 99.9 % objective: the arithmetic against the simulation "
        "(1 s evaluation steps, so the simulation rounds up to the next whole second).",
        c.table(["alert", "factor × budget × long window", "simulated"], arithmetic),
        "Alert quality at 99.9 % (lab 03): detection is from the start of the scenario, reset from its end.",
        c.table(["strategy", "scenario", "should page", "fired", "detection", "reset"], outcome),
        c.table(["strategy", "precision", "recall"], scores),
        f"Every strategy detects the total outage; the fastest after {_fmt(outage.min())}.",
    ])
    c.write_section("slo_rules", "SLO rules: generation, promtool, alert quality", body)


if __name__ == "__main__":
    main()
