"""kit.history: deterministic generation, promtool acceptance, backfill into a real Prometheus.

The backfill tests run a sandbox of their own (other free ports, its own state
folder) because loading history replaces what Prometheus holds, and once restarts
it; the shared ``live`` sandbox is only read, to compare metric and label names
with the live shop.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone

import httpx
import numpy as np
import pytest

from kit import binaries, history, procs, prom, sandbox
from kit.config import PORTS, Config
from kit.errors import InvalidInput
from kit.history import simulation
from kit.sandbox import tsdb
from kit.metrics import LATENCY_BUCKETS

pytestmark = pytest.mark.long  # a sandbox of its own, and a week of history backfilled into it three times

END = datetime(2026, 3, 4, 12, 0, 30, tzinfo=timezone.utc)
DAYS = 7  # holds the outage and the spike; the 30-day path runs in benchmarks/history_backfill.py


def _counters(h: history.History):
    return [s for fam, members in h._families.items() if fam != "build_info" for s in members]


def test_generation_is_deterministic_and_counters_monotonic():
    first, again = history.generate(2, END, seed=11), history.generate(2, END, seed=11)
    assert first.text() == again.text()
    assert history.generate(2, END, seed=12).text() != first.text()
    assert first.end == datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)  # aligned down to the step
    assert first.samples == first.series * 2 * 1440
    for series in _counters(first):
        assert (np.diff(series.values) >= 0).all(), series.labels
    for job, route, method in [("shop", "/catalog", "GET"), ("payments", "/pay", "POST")]:
        edges = [first.values("http_request_duration_seconds_bucket", job=job, route=route, le=le)
                 for le in [simulation._go_float(b) for b in LATENCY_BUCKETS] + ["+Inf"]]
        assert all((a <= b).all() for a, b in zip(edges, edges[1:]))
        assert (edges[-1] == first.values("http_request_duration_seconds_count", job=job, route=route)).all()


def test_openmetrics_text_is_accepted_by_promtool(tmp_path):
    h = history.generate(1, END, seed=3)
    source = tmp_path / "h.om"
    h.write(source)
    text = source.read_text()
    assert text.startswith("# TYPE http_requests counter\n") and text.endswith("# EOF\n")
    run = subprocess.run([str(binaries.path("promtool")), "tsdb", "create-blocks-from", "openmetrics",
                          str(source), str(tmp_path / "blocks")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    metas = [json.loads(p.read_text()) for p in (tmp_path / "blocks").glob("*/meta.json")]
    assert sum(m["stats"]["numSamples"] for m in metas) == h.samples
    assert {m["stats"]["numSeries"] for m in metas} == {h.series}


def test_incidents_are_listed_inside_the_history():
    month = history.incidents(30, END)
    assert [i.shape for i in month] == ["latency_regression", "slow_burn", "spike", "total_outage"]
    assert all(i.start < i.end <= END for i in month)
    outage = [i for i in history.incidents(3, END)]
    assert [(i.name, i.route, i.error_ratio, i.duration) for i in outage] == [
        ("checkout-outage", "/checkout", 1.0, 1200.0)]


@pytest.mark.parametrize("call, field", [
    (lambda: history.generate(0), "days"),
    (lambda: history.generate(-1), "days"),
    (lambda: history.generate(91), "days"),
    (lambda: history.generate("3"), "days"),
    (lambda: history.generate(3, seed="abc"), "seed"),
    (lambda: history.generate(3, seed=1.5), "seed"),
    (lambda: history.generate(3, seed=None), "seed"),
    (lambda: history.generate(3, step="5s"), "step"),
    (lambda: history.generate(3, step="1x"), "step"),
    (lambda: history.generate(3, end=datetime(2026, 1, 1)), "end"),
    (lambda: history.backfill(0), "days"),
    (lambda: history.backfill(120), "days"),
    (lambda: history.backfill(3, seed="x"), "seed"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(InvalidInput) as caught:
        call()
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")


# ---------------------------------------------------------------- backfill into a real Prometheus


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    ports = dict(zip(PORTS, procs.free_ports(len(PORTS))))
    config = Config.from_env({}, state_dir=str(tmp_path_factory.mktemp("history") / "state"),
                             traffic_rps=2.0, **ports)
    sandbox.up(config=config)
    yield config
    sandbox.down(config)


@pytest.fixture(scope="module")
def loaded(own):
    messages: list[str] = []
    before = sandbox.pids(own)["prometheus"]
    result = history.backfill(DAYS, config=own, progress=messages.append)
    assert sandbox.pids(own)["prometheus"] == before, "Prometheus restarted: the reload marker did not open the blocks"
    return result, messages


def _blocks_samples(config: Config, before: datetime) -> int:
    """Samples in the TSDB blocks on disk that end by ``before`` (the history; live data is still in the head)."""
    total = 0
    for meta_file in (config.state / "prometheus-data").glob("*/meta.json"):
        meta = json.loads(meta_file.read_text())
        if meta["stats"]["numSeries"] == 1:
            continue  # the reload marker's block (kit.sandbox.tsdb)
        if meta["maxTime"] <= before.timestamp() * 1000 + 1:
            total += meta["stats"]["numSamples"]
    return total


def test_load_reports_what_it_did(loaded, own, capsys):
    result, messages = loaded
    assert result.series == 99 and result.samples == result.series * DAYS * 1440
    assert result.end.timestamp() % 60 == 0 and result.end <= datetime.now(timezone.utc)
    # history ends where live data begins: the last history sample is less than a step before the first live one
    assert result.end.timestamp() < history.live_start(own) <= result.end.timestamp() + 60
    assert [i.name for i in result.incidents] == ["checkout-spike", "checkout-outage"]
    assert any("promtool" in m for m in messages) and messages[-1].startswith("history backfilled")
    assert "Prometheus opened the new blocks (a TSDB reload, no restart)" in messages
    assert capsys.readouterr().out == ""
    assert json.loads((own.state / "history.json").read_text())["samples"] == result.samples


def _ratio(route: str, window: str, at: datetime, config: Config) -> float:
    sel = f'job="shop",route="{route}"'
    return prom.scalar(f'sum(increase(http_requests_total{{{sel},code=~"5.."}}[{window}]))'
                       f' / sum(increase(http_requests_total{{{sel}}}[{window}]))', at=at, config=config)


def test_incidents_are_found_where_they_were_written(loaded, own):
    result, _ = loaded
    outage, spike = {i.shape: i for i in result.incidents}["total_outage"], \
        {i.shape: i for i in result.incidents}["spike"]
    assert _ratio("/checkout", "20m", outage.end, own) == pytest.approx(1.0)
    assert _ratio("/checkout", "20m", outage.start, own) < 0.01
    assert _ratio("/checkout", "1h", outage.start.timestamp() - 3600, own) < 0.01
    assert 0.1 < _ratio("/checkout", "4m", spike.end, own) < 0.3
    assert _ratio("/catalog", "20m", outage.end, own) < 0.01
    # exact values: the TSDB holds what generate() wrote
    h = history.generate(DAYS, result.end, seed=result.seed, config=own)
    index = int((outage.end - h.start).total_seconds() // h.step)
    for code in ("200", "503"):
        stored = prom.scalar(f'http_requests_total{{job="shop",route="/checkout",code="{code}"}}',
                             at=outage.end, config=own)
        assert stored == h.values("http_requests_total", route="/checkout", code=code)[index]
    # payments saw no calls during the outage
    assert prom.scalar('sum(increase(http_requests_total{job="payments"}[20m]))', at=outage.end,
                       config=own) == 0


def _series(config: Config, match: str, start: float, end: float) -> list[dict]:
    response = httpx.get(f"{config.url('prometheus')}/api/v1/series",
                         params={"match[]": match, "start": start, "end": end}, timeout=30)
    return response.json()["data"]


def test_names_and_labels_match_the_live_services(loaded, own):
    result, _ = loaded
    end = result.end.timestamp()
    past = _series(own, '{job=~"shop|payments"}', end - 3600, end)
    prom.wait_for('sum(rate(http_requests_total{job="shop",route="/checkout"}[10s])) > 0', config=own)
    now = datetime.now(timezone.utc).timestamp()
    current = _series(own, '{job=~"shop|payments"}', now - 30, now)

    def shape(series):
        return {(s["__name__"], s["job"], s["instance"], tuple(sorted(k for k in s if k != "__name__")))
                for s in series}

    history_shapes, live_shapes = shape(past), shape(current)
    assert history_shapes <= live_shapes, history_shapes - live_shapes
    live_routes = {(s["job"], s["route"], s["method"]) for s in current
                   if s["__name__"] == "http_requests_total" and s["route"] != "/health"}  # health checks: not simulated
    assert live_routes <= {(s["job"], s["route"], s["method"]) for s in past if "route" in s}
    live_le = {s["le"] for s in current if s["__name__"] == "http_request_duration_seconds_bucket"}
    assert live_le == {s["le"] for s in past if "le" in s}


def test_loading_twice_does_not_duplicate(loaded, own):
    first, _ = loaded
    live_began = history.live_start(own)
    count = f'count_over_time(http_requests_total{{job="shop",route="/checkout",code="200"}}[{DAYS}d])'
    assert prom.scalar(count, at=first.end, config=own) == DAYS * 1440
    assert _blocks_samples(own, first.end) == first.samples

    other = history.backfill(DAYS, seed=7, config=own)  # different values at the same timestamps
    assert other.end == first.end
    assert _blocks_samples(own, first.end) == other.samples
    assert prom.scalar(count, at=other.end, config=own) == DAYS * 1440
    expected = history.generate(DAYS, other.end, seed=7, config=own)
    stored = prom.scalar('http_requests_total{job="shop",route="/catalog",code="200"}', at=other.end, config=own)
    assert stored == expected.values("http_requests_total", route="/catalog", code="200")[-1]

    # Without a reload marker (a data folder from before them, a Prometheus that does not reload on
    # clean_tombstones), the new blocks are opened by a restart.
    tsdb.admin(own, "delete_series", [("match[]", tsdb.RELOAD_MARKER)])
    tsdb.admin(own, "clean_tombstones")
    before, said = sandbox.pids(own)["prometheus"], []
    again = history.backfill(DAYS, seed=first.seed, config=own, progress=said.append)
    assert "restarting Prometheus so it opens the new blocks" in said
    assert sandbox.pids(own)["prometheus"] != before and sandbox.status(own).healthy
    assert again.end == first.end and _blocks_samples(own, first.end) == first.samples
    assert prom.scalar(count, at=again.end, config=own) == DAYS * 1440
    assert history.live_start(own) == live_began  # live data untouched by the deletes


def test_a_finer_history_already_loaded_serves_a_coarser_ask(loaded, own):
    first, _ = loaded
    coarse = history.backfill(DAYS, seed=first.seed, step="5m", config=own)
    assert (coarse.step, coarse.start, coarse.end) == (first.step, first.start, first.end)
    assert set(coarse.timings) == {"simulate"}  # nothing written, nothing restarted
    assert _blocks_samples(own, first.end) == first.samples


def test_a_history_covers_another_only_when_it_is_as_fine_and_as_long():
    from kit.history.backfill import covers

    fine = history.generate(2, END, seed=3, step="1m")
    coarse = history.generate(2, END, seed=3, step="5m")
    shorter = history.generate(1, END, seed=3, step="1m")

    def marker(h):
        return {"start": h.start.isoformat(), "end": h.end.isoformat(), "step": h.step, "seed": h.seed}

    assert covers(marker(fine), coarse) and covers(marker(fine), fine)
    assert not covers(marker(coarse), fine)
    assert not covers(marker(shorter), coarse)
    assert not covers(marker(history.generate(2, END, seed=4, step="1m")), coarse)
    assert not covers({"start": "yesterday"}, coarse) and not covers({}, coarse)


def test_promtool_error_is_shown_verbatim(own, monkeypatch):
    from kit.errors import ProcessFailed

    monkeypatch.setattr(history.History, "chunks", lambda self, lo=0, hi=None: iter(["not openmetrics at all\n"]))
    before = sorted(p.name for p in (own.state / "prometheus-data").iterdir())
    with pytest.raises(ProcessFailed) as caught:
        history.backfill(1, seed=99, config=own)  # a seed never loaded: a history already loaded cannot serve it
    assert "create-blocks-from openmetrics" in str(caught.value) and "exit code 1" in str(caught.value)
    assert caught.value.log_tail  # promtool's own words
    assert sorted(p.name for p in (own.state / "prometheus-data").iterdir()) == before  # nothing changed


def test_every_incident_is_in_the_generated_month():
    h = history.generate(30, END, seed=5)
    stamps = h.timestamps

    def during(i):
        return (stamps > i.start.timestamp()) & (stamps <= i.end.timestamp())

    def error_ratio(job, route, mask):
        total = sum(np.diff(s.values, prepend=0)[mask].sum() for s in h._families["http_requests"]
                    if s.labels["job"] == job and s.labels["route"] == route)
        bad = sum(np.diff(s.values, prepend=0)[mask].sum() for s in h._families["http_requests"]
                  if s.labels["job"] == job and s.labels["route"] == route and s.labels["code"].startswith("5"))
        return bad / total

    for incident in history.incidents(30, END):
        mask = during(incident)
        if incident.error_ratio is not None:
            measured = error_ratio(incident.job, incident.route, mask)
            assert measured == pytest.approx(incident.error_ratio, rel=0.5, abs=0.002), incident.name
            assert error_ratio(incident.job, incident.route, ~mask) < 0.002, incident.name
        else:  # latency regression: most catalog requests slower than 0.3 s only during it
            fast = np.diff(h.values("http_request_duration_seconds_bucket", route="/catalog", le="0.3"), prepend=0)
            count = np.diff(h.values("http_request_duration_seconds_count", route="/catalog"), prepend=0)
            assert fast[mask].sum() / count[mask].sum() < 0.9
            assert fast[~mask].sum() / count[~mask].sum() > 0.99
            assert incident.p99_seconds > 0.5


def test_loading_the_same_history_again_is_instant(live):
    first = history.backfill(1, config=live)
    said = []
    again = history.backfill(1, config=live, progress=said.append)
    assert "a history covering this one is already loaded (60 s steps); nothing to do" in said
    assert (again.start, again.end, again.samples, again.incidents) == (first.start, first.end, first.samples, first.incidents)
