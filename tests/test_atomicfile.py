"""kit.atomicfile: a file is replaced whole, with the permissions asked for, or left as it was."""

from __future__ import annotations

import stat

import pytest

from kit.atomicfile import write_atomically


def test_text_and_bytes_replace_the_file_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    write_atomically(path, "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    write_atomically(path, b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_mode_is_kept_when_given(tmp_path):
    path = tmp_path / "lab.ipynb"
    write_atomically(path, "{}", mode=0o644)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_failed_write_leaves_the_file_as_it_was_and_no_temporary_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    with pytest.raises(TypeError):
        write_atomically(path, 42)  # neither text nor bytes: the write fails after the temporary file exists
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_folder_that_cannot_be_made_is_refused_in_the_callers_words(tmp_path):
    from kit.atomicfile import folder_locked
    from kit.errors import KitError

    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(KitError, match="cannot keep it in .*file/state"):
        with folder_locked(tmp_path / "file" / "state", lambda error: KitError(f"cannot keep it in {error.filename}")):
            pass
    with folder_locked(tmp_path / "made", lambda error: KitError(str(error))):
        assert (tmp_path / "made").is_dir()
