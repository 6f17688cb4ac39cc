"""kit.promfiles: promtool's answer is kept for the same binary and input, and only for those."""

from __future__ import annotations

import pytest

from kit import promfiles

RULES = {"groups": [{"name": "g", "rules": [{"record": "job:up:sum", "expr": "sum by (job) (up)"}]}]}
BROKEN = {"groups": [{"name": "g", "rules": [{"record": "job:up:sum", "expr": "sum by (job) (up"}]}]}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "reliability-dojo" / "promtool"


def test_the_same_input_is_answered_from_the_cache(cache):
    first = promfiles.check_rules(RULES)
    assert first.passed and "SUCCESS" in first.output
    [entry] = cache.glob("*.json")
    entry.write_text('{"passed": false, "output": "from the cache"}')
    assert promfiles.check_rules(RULES) == promfiles.PromtoolResult(False, "from the cache")
    broken = promfiles.check_rules(BROKEN)
    assert not broken.passed and "unclosed left parenthesis" in broken.output
    assert len(list(cache.glob("*.json"))) == 2


def test_a_damaged_or_unwritable_cache_only_means_promtool_runs_again(cache):
    cache.parent.mkdir(parents=True)
    cache.write_text("not a folder")
    assert promfiles.check_rules(RULES).passed
    cache.unlink()
    promfiles.check_rules(RULES)
    [entry] = cache.glob("*.json")
    entry.write_text("{oops")
    assert promfiles.check_rules(RULES).passed
    assert promfiles.check_rules(RULES).passed and '"passed": true' in entry.read_text()


def test_the_least_recently_used_quarter_goes_when_the_cache_is_full(cache, monkeypatch):
    monkeypatch.setattr(promfiles, "CACHE_ENTRIES", 4)
    for n in range(5):
        promfiles.check_rules({"groups": [{"name": f"g{n}", "rules": []}]})
    assert len(list(cache.glob("*.json"))) == 3
