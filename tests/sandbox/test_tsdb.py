"""kit.sandbox.tsdb: the reload marker a fresh TSDB starts with, written by the real promtool.

Opening blocks through the marker in a running Prometheus, and the restart where there is none, are tested
where history is loaded (tests/history/test_history.py), in a sandbox of their own.
"""

from __future__ import annotations

import json

import pytest

from kit import binaries
from kit.errors import ProcessFailed
from kit.sandbox import tsdb


def _blocks(folder):
    return [json.loads(meta.read_text()) for meta in folder.glob("*/meta.json")]


def test_an_empty_data_folder_gets_one_marker_block_and_a_used_one_is_left_alone(tmp_path):
    data = tmp_path / "prometheus-data"
    tsdb.seed(data, str(binaries.path("promtool")))
    [meta] = _blocks(data)
    assert (meta["stats"]["numSeries"], meta["stats"]["numSamples"]) == (1, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prometheus-data"]  # promtool's scratch folder is gone

    used = tmp_path / "used"
    (used / "wal").mkdir(parents=True)
    tsdb.seed(used, str(binaries.path("promtool")))
    assert _blocks(used) == [] and [p.name for p in used.iterdir()] == ["wal"]


def test_a_promtool_that_fails_says_so_and_leaves_the_folder_empty(tmp_path):
    data = tmp_path / "prometheus-data"
    with pytest.raises(ProcessFailed, match="reload marker"):
        tsdb.seed(data, "/bin/false")
    assert list(data.iterdir()) == []
