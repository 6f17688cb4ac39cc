"""kit.jsonlines: whole lines only, whatever crashed or wrote at the same time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kit import jsonlines
from kit.errors import InvalidInput, KitError


def test_a_crash_s_unfinished_line_is_skipped_then_cut_off(tmp_path: Path):
    path = tmp_path / "log" / "events.jsonl"
    assert jsonlines.read(path) == [] and jsonlines.append(path, []) == 0
    assert jsonlines.append(path, [{"n": 1}, {"n": 2}]) == 2
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"n": 3, "cut')
    assert [v for _, v in jsonlines.read(path)] == [{"n": 1}, {"n": 2}]
    jsonlines.append(path, [{"n": 4}])
    assert path.read_text() == '{"n":1}\n{"n":2}\n{"n":4}\n'
    assert [w for w, _ in jsonlines.read(path)] == [f"{path}:1", f"{path}:2", f"{path}:3"]


def test_writers_at_once_never_interleave(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: jsonlines.append(path, [{"writer": i, "pad": "x" * 5000}] * 5), range(8)))
    values = [v for _, v in jsonlines.read(path)]
    assert len(values) == 40 and sorted(v["writer"] for v in values) == sorted(list(range(8)) * 5)


def test_a_damaged_line_and_an_unwritable_file_are_named(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"n": 1}\nnot json\n')
    with pytest.raises(InvalidInput, match="is not JSON") as error:
        jsonlines.read(path)
    assert error.value.source == f"{path}:2"
    (tmp_path / "folder.jsonl").mkdir()
    with pytest.raises(KitError, match="folder.jsonl.*check the folder"):
        jsonlines.append(tmp_path / "folder.jsonl", [{}], hint="check the folder")
