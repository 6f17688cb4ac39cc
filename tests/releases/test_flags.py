"""Feature flags on the worker's live sandbox: `kit flag` changes the flag file, the real shop process reloads it
and serves each request by its user key, the kill switch, a damaged file, and the deploy log.

Which keys a rollout reaches is checked key by key against flagd's evaluator run here on the same file: the shop
must give every user the answer flagd gives that user's key, through HAProxy, as the background traffic runs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext
from prometheus_client.parser import text_string_to_metric_families

from kit import localhttp, polling
from kit.atomicfile import write_atomically
from kit.cli import main
from kit.errors import InvalidInput
from kit.releases import deploylog, flags
from kit.shop import faults
from kit.shop.model import FLAGS_HEADER, USER_HEADER, user_key

KEYS = [user_key(n) for n in range(60)]


@pytest.fixture
def flagged(live):
    """The live sandbox with its flags at their defaults before and after the test."""
    flags.reset_flags(config=live)
    yield live
    flags.reset_flags(config=live)


def served(live) -> dict[str, bool]:
    """Whether each of ``KEYS`` gets the catalog with recommendations (through HAProxy), from the response header."""

    def ask(key: str) -> bool:
        response = localhttp.client().get(live.url("shop") + "/catalog", headers={USER_HEADER: key}, timeout=5.0)
        assert response.status_code == 200, response.text
        return "recommendations=on" in response.headers[FLAGS_HEADER].split(",")

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(KEYS, pool.map(ask, KEYS)))


def flagd_says(live, flag: str) -> dict[str, bool]:
    """What flagd's own evaluator answers for each of ``KEYS`` on the sandbox's flag file."""
    core = FlagdCore()
    core.set_flags(live.paths.flags.read_text())
    return {key: core.resolve_boolean_value(flag, False, EvaluationContext(key)).value for key in KEYS}


def evaluations(live, flag: str, reason: str) -> float:
    text = localhttp.client().get(live.url("shop_stable") + "/metrics", timeout=5.0).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "feature_flag_evaluations_total" and sample.labels["flag"] == flag
               and sample.labels["reason"] == reason)


def test_kit_flag_rolls_out_by_user_key_kills_and_logs_every_change(flagged, capsys):
    live = flagged
    assert main(["flag", "recommendations", "30%"]) == 0
    assert capsys.readouterr().out.startswith("flag recommendations 30% (was off); the shop serves it after ")
    rollout = served(live)
    assert rollout == flagd_says(live, "recommendations") and 0 < sum(rollout.values()) < len(KEYS)
    assert served(live) == rollout, "a user's answer changed between two requests"

    killed_before = evaluations(live, "recommendations", "DISABLED")
    assert main(["flag", "recommendations", "kill", "--reason", "catalog errors"]) == 0
    assert not any(served(live).values()), "a request got the killed flag"
    assert evaluations(live, "recommendations", "DISABLED") >= killed_before + len(KEYS)

    assert main(["flag", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"file": "killed"' in listed and '"served": "killed"' in listed
    assert main(["flag", "recommendations", "off"]) == 0 and main(["flag", "recommendations", "off"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "flag recommendations is off already"

    logged = [(e.flag, e.flag_state, e.reason) for e in deploylog.read(config=live) if e.kind == "flag"][-3:]
    assert logged == [("recommendations", "30%", ""), ("recommendations", "killed", "catalog errors"),
                      ("recommendations", "off", "")]


def test_a_damaged_flag_file_is_reported_and_the_shop_keeps_serving_its_last_good_flags(flagged):
    live = flagged
    flags.set_flag("recommendations", True, config=live)
    good = live.paths.flags.read_text()
    write_atomically(live.paths.flags, good.replace('"ENABLED"', '"ENABLD"', 1), mode=0o644)
    problem = polling.wait_for(lambda: faults.flag_file_of("shop", live)["problem"], timeout=5,
                               describe="the shop did not report the damaged flag file")
    assert "flags.recommendations.state: input should be 'ENABLED' or 'DISABLED'" in problem, problem
    assert faults.flags_of("shop", live)["recommendations"] == "on"
    assert all(served(live).values()), "the last good flags stopped serving"
    with pytest.raises(InvalidInput) as refused:
        flags.change_flag("recommendations", killed=True, config=live)
    assert refused.value.field == "flags.recommendations.state"

    assert main(["flag", "reset"]) == 0  # mends the file: the shop serves the default again
    assert faults.flag_file_of("shop", live)["problem"] is None
    assert faults.flags_of("shop", live) == {"recommendations": "off", "new_checkout": "off"}


def test_a_kill_switch_is_timed_on_real_requests_and_left_killed(flagged):
    live = flagged
    logged = len(deploylog.read(config=live))
    timing = flags.time_kill("recommendations", config=live)
    assert timing.answers >= flags.KILL_CONFIRM_ANSWERS and timing.exposed < timing.answers
    assert timing.last_exposed_at is None or timing.last_exposed_at >= timing.killed_at
    assert 0 <= timing.seconds <= 2, "the kill switch target: zero exposure within 2 s"
    assert faults.flags_of("shop", live)["recommendations"] == "killed"
    assert not any(served(live).values()), "a request got the killed flag"
    changes = [(e.flag, e.flag_state) for e in deploylog.read(config=live)[logged:]]
    assert changes == [("recommendations", "on"), ("recommendations", "killed")]
    with pytest.raises(InvalidInput) as refused:
        flags.time_kill("nope", config=live)
    assert refused.value.field == "name"
