"""kit.flags.provider through the real OpenFeature SDK and flagd's evaluator core, on flag files in a temp folder.

A rollout's share is checked over 10,000 user keys against the binomial: within ``Z`` = 4 standard deviations of
the set percentage (at 25 %: ±1.7 points), which a correct hash misses about 6 times in 100,000 checks. A share
can be right while keys move between buckets, so stickiness is pinned on its own: the same keys after a reload,
and raising the percentage only adds keys.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import Reason

from kit.config import CONTENT, FLAGS_FILE
from kit.errors import InvalidInput
from kit.flags import FlagSetting, change_flag, flag_document, parse_flags
from kit.flags.provider import FlagFileProvider
from kit.shop.faults import FLAGS
from kit.shop.model import user_key

KEYS = [f"user-{n:05d}" for n in range(10_000)]
Z = 4.0
KNOWN = tuple(FLAGS)


@pytest.fixture
def flag_file(tmp_path) -> Path:
    path = tmp_path / FLAGS_FILE
    path.write_text(flag_document({name: FlagSetting(0) for name in KNOWN}))
    return path


@pytest.fixture
def served(flag_file, request):
    """A provider on ``flag_file`` behind the OpenFeature API (its own domain), polled by the test itself."""
    provider = FlagFileProvider(flag_file, KNOWN, poll_s=3600)  # the test calls check(); the thread stays asleep
    domain = request.node.name
    api.set_provider_and_wait(provider, domain)
    yield provider, api.get_client(domain)
    provider.shutdown()


def on_for(client, flag: str, keys=KEYS) -> set[str]:
    return {key for key in keys if client.get_boolean_value(flag, False, EvaluationContext(key))}


@pytest.mark.parametrize("percent", [1, 25, 50, 90])
def test_a_rollout_reaches_its_share_of_10000_keys(flag_file, served, percent):
    provider, client = served
    change_flag(flag_file, "new_checkout", KNOWN, percent=percent)
    assert provider.check()
    share = len(on_for(client, "new_checkout")) / len(KEYS)
    p = percent / 100
    assert abs(share - p) <= Z * math.sqrt(p * (1 - p) / len(KEYS)), f"{share:.4f} of keys on at {percent} %"


def test_a_key_keeps_its_answer_across_reloads_and_a_bigger_rollout_only_adds_keys(flag_file, served):
    provider, client = served
    change_flag(flag_file, "new_checkout", KNOWN, percent=25)
    assert provider.check()
    first = on_for(client, "new_checkout")
    flag_file.write_text(flag_file.read_text())  # the same flags in a new file: reloaded, same answers
    assert provider.check() and provider.loaded.loads == 3
    assert on_for(client, "new_checkout") == first
    change_flag(flag_file, "new_checkout", KNOWN, percent=40)
    assert provider.check()
    wider = on_for(client, "new_checkout")
    assert first < wider, f"{len(first - wider)} keys lost the flag when it grew from 25 to 40 %"
    added, p = len(wider - first) / len(KEYS), 0.15
    assert abs(added - p) <= Z * math.sqrt(p * (1 - p) / len(KEYS))
    assert on_for(client, "recommendations") == set()  # each flag has its own buckets; this one is off


def test_flags_bucket_keys_independently(flag_file, served):
    provider, client = served
    change_flag(flag_file, "new_checkout", KNOWN, percent=50)
    change_flag(flag_file, "recommendations", KNOWN, percent=50)
    assert provider.check()
    both = len(on_for(client, "new_checkout") & on_for(client, "recommendations")) / len(KEYS)
    assert abs(both - 0.25) <= Z * math.sqrt(0.25 * 0.75 / len(KEYS)), "the two rollouts pick the same keys"


def test_the_kill_switch_serves_the_code_default_which_is_the_safe_path(flag_file, served):
    # Every flag of the shop defaults to off: off is the code as it was before the flag, the safe path a kill
    # switch must fall back to (kit.shop.service serves FLAGS[name].default for a DISABLED flag).
    assert all(flag.default is False for flag in FLAGS.values())
    provider, client = served
    change_flag(flag_file, "new_checkout", KNOWN, percent=100)
    assert provider.check() and on_for(client, "new_checkout", KEYS[:100]) == set(KEYS[:100])
    before, after, _ = change_flag(flag_file, "new_checkout", KNOWN, killed=True)
    assert (before, after) == (FlagSetting(100), FlagSetting(100, killed=True)) and after.text == "killed"
    assert provider.check()
    details = client.get_boolean_details("new_checkout", FLAGS["new_checkout"].default, EvaluationContext("user-1"))
    assert details.value is False and details.reason == Reason.DISABLED
    assert on_for(client, "new_checkout", KEYS[:1000]) == set()
    change_flag(flag_file, "new_checkout", KNOWN, killed=False)  # revived: the rollout it had comes back
    assert provider.check() and on_for(client, "new_checkout", KEYS[:100]) == set(KEYS[:100])


def test_a_request_without_a_user_key_gets_a_rollouts_default_off(flag_file, served):
    provider, client = served
    change_flag(flag_file, "new_checkout", KNOWN, percent=99)
    assert provider.check()
    assert client.get_boolean_details("new_checkout", False).value is False


@pytest.mark.parametrize("text, field", [
    ('{"flags": {"new_checkout": {"state": "ENABLD", "variants": {"on": true, "off": false}, '
     '"defaultVariant": "on"}}}', "flags.new_checkout.state"),
    ('{"flags": {"new_checkout": {"state": "ENABLED", "variants": {"on": "yes", "off": false}, '
     '"defaultVariant": "on"}}}', "flags.new_checkout.variants.on"),
    ('{"flags": {"new_checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, '
     '"defaultVariant": "maybe"}}}', "flags.new_checkout.defaultVariant"),
    ('{"flags": {"new_checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": '
     '"off", "targeting": {"fractional": [["on", 2.5], ["off", 97]]}}}}', "flags.new_checkout.targeting.fractional[0][1]"),
    ('{"flags": {"new_checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": '
     '"off", "targeting": {"fractional": [["in", 25], ["off", 75]]}}}}', "flags.new_checkout.targeting.fractional[0][0]"),
    ('{"flags": {"new_checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": '
     '"off", "targeting": {"fractional": [["on", 0], ["off", 0]]}}}}', "flags.new_checkout.targeting.fractional"),
    ('{"flags": {"new_checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": '
     '"off", "targeting": {"if": [true, "on", "off"]}}}}', "flags.new_checkout.targeting.if"),
    ('{"flags": {"dark_mode": {"state": "ENABLED", "variants": {"on": true, "off": false}, '
     '"defaultVariant": "on"}}}', "flags.dark_mode"),
    ('{"flags": {"new_checkout": {"state": "ENABLED", "variants": {"on": true, "off": false}, ', "flags"),
    ('{"flag": {}}', "flag"),
])
def test_an_invalid_file_is_refused_naming_the_flag_and_field_and_the_last_good_flags_keep_serving(
        flag_file, served, text, field):
    provider, client = served
    change_flag(flag_file, "new_checkout", KNOWN, percent=25)
    assert provider.check()
    good, rollout = provider.loaded, on_for(client, "new_checkout", KEYS[:2000])
    flag_file.write_text(text)
    assert not provider.check()
    assert provider.loaded.problem.startswith(f"{flag_file}: {field}: "), provider.loaded.problem
    assert (provider.loaded.settings, provider.loaded.digest) == (good.settings, good.digest)
    assert on_for(client, "new_checkout", KEYS[:2000]) == rollout
    with pytest.raises(InvalidInput) as refused:  # the kit refuses to change a damaged file rather than guess
        change_flag(flag_file, "new_checkout", KNOWN, percent=30)
    assert refused.value.field == field
    flag_file.write_text(flag_document({"new_checkout": FlagSetting(0)}))
    assert provider.check() and provider.loaded.problem is None
    assert on_for(client, "new_checkout", KEYS[:2000]) == set()


def test_with_no_good_file_every_flag_serves_its_code_default(tmp_path):
    missing = tmp_path / FLAGS_FILE
    provider = FlagFileProvider(missing, KNOWN, poll_s=3600)
    api.set_provider_and_wait(provider, "no-file")
    try:
        assert "cannot read" in provider.loaded.problem
        assert api.get_client("no-file").get_boolean_value("new_checkout", False, EvaluationContext("u")) is False
        missing.write_text(flag_document({"new_checkout": FlagSetting(100)}))
        assert provider.check() and provider.loaded.problem is None
        assert api.get_client("no-file").get_boolean_value("new_checkout", False, EvaluationContext("u")) is True
    finally:
        provider.shutdown()


def test_a_reader_never_sees_half_a_file_while_flags_change(flag_file):
    stop, seen, torn = threading.Event(), [], []

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(parse_flags(flag_file.read_bytes(), KNOWN).settings["new_checkout"])
            except ValueError as error:
                torn.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for step in range(200):
            change_flag(flag_file, "new_checkout", KNOWN, percent=step % 101)
    finally:
        stop.set()
        reader.join()
    assert not torn and len(seen) > 1, f"{len(torn)} torn reads of {len(seen) + len(torn)}"


def test_the_sandbox_default_file_is_valid_with_every_flag_at_its_code_default():
    settings = parse_flags((CONTENT.sandbox / FLAGS_FILE).read_bytes(), KNOWN).settings
    assert settings == {name: FlagSetting(100 if flag.default else 0) for name, flag in FLAGS.items()}


def test_the_background_traffic_spreads_over_stable_user_keys():
    assert user_key(3) == user_key(1003) == "user-0003" and len({user_key(n) for n in range(5000)}) == 1000
