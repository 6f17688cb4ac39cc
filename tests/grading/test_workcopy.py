"""Working copies of the labs: copied once, following the release until started, never overwritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.config import REPO_ROOT, Config
from kit.errors import InvalidInput
from kit.grading import workcopy

LAB = "00-intro"


def _notebook(*sources: str, outputs: list | None = None) -> str:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
              "outputs": outputs or [], "source": source} for i, source in enumerate(sources)]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _release(root: Path, lab: str, text: str, extra: dict[str, str] | None = None) -> Path:
    folder = root / "labs" / lab
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lab}.ipynb").write_text(text)
    for name, content in (extra or {}).items():
        (folder / name).write_text(content)
    return folder / f"{lab}.ipynb"


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    _release(root, LAB, _notebook("x = None  # your answer"), {"data.csv": "a,b\n1,2\n"})
    _release(root, "06-drill", _notebook("drill = None"))
    (root / "runbooks").mkdir()
    (root / "runbooks" / "TEMPLATE.md").write_text("# template\n")
    return root


@pytest.fixture
def config(tmp_path) -> Config:
    return Config.from_env({"KIT_STATE_DIR": str(tmp_path / "state")})


def _actions(results) -> dict[str, str]:
    return {r.path.name: r.action for r in results}


def test_the_working_folder_is_a_setting_outside_the_repository(tmp_path):
    assert Config.from_env({"KIT_STATE_DIR": str(tmp_path)}).work == tmp_path / "work"
    assert Config.from_env({"KIT_STATE_DIR": str(tmp_path), "KIT_WORK_DIR": str(tmp_path / "mob")}).work \
        == tmp_path / "mob"
    assert REPO_ROOT not in Config.from_env({"KIT_STATE_DIR": str(tmp_path)}).work.parents
    described = {name: value for name, _, value, _ in Config.from_env({"KIT_STATE_DIR": str(tmp_path)}).describe()}
    assert described["work_dir"] == str(tmp_path / "work")


def test_first_open_copies_every_lab_file_and_links_the_runbooks(repo, config):
    results = workcopy.ensure(config, root=repo)
    assert _actions(results) == {f"{LAB}.ipynb": "created", "data.csv": "created", "06-drill.ipynb": "created"}
    copy = workcopy.notebook(LAB, config)
    assert copy == config.work / LAB / f"{LAB}.ipynb"
    assert copy.read_text() == (repo / "labs" / LAB / f"{LAB}.ipynb").read_text()
    assert (config.work / "runbooks").is_symlink() and (config.work / "runbooks" / "TEMPLATE.md").is_file()
    assert "(3 created from labs/)" in workcopy.report(results, config)
    assert set(_actions(workcopy.ensure(config, root=repo)).values()) == {"current"}


def test_a_learners_answers_are_never_overwritten_and_a_newer_release_is_announced(repo, config):
    workcopy.ensure(config, root=repo)
    copy = workcopy.notebook(LAB, config)
    copy.write_text(_notebook("x = 42  # mine"))
    _release(repo, LAB, _notebook("x = None  # your answer, now with a hint"))

    results = workcopy.ensure(config, root=repo)
    assert _actions(results)[copy.name] == "newer"
    assert "x = 42" in copy.read_text()
    message = workcopy.report(results, config)
    assert f"kit labs copy {LAB} --fresh" in message and str(copy) in message
    assert _actions(workcopy.ensure(config, root=repo))[copy.name] == "newer"  # said again until they choose


def test_an_unstarted_copy_follows_the_new_release_even_after_running_its_cells(repo, config):
    workcopy.ensure(config, root=repo)
    copy = workcopy.notebook(LAB, config)
    ran = json.loads(_notebook("x = None  # your answer", outputs=[{"output_type": "stream", "name": "stdout",
                                                                     "text": "ran\n"}]))
    ran["metadata"] = {"kernelspec": {"name": "python3"}}
    copy.write_text(json.dumps(ran))  # run and saved by JupyterLab: outputs and metadata, same sources
    newer = _notebook("x = None  # your answer, now with a hint")
    _release(repo, LAB, newer)

    assert _actions(workcopy.ensure(config, root=repo))[copy.name] == "updated"
    assert copy.read_text() == newer
    assert _actions(workcopy.ensure(config, root=repo))[copy.name] == "current"


def test_a_file_the_kit_did_not_copy_is_kept(repo, config):
    copy = workcopy.notebook(LAB, config)
    copy.parent.mkdir(parents=True)
    copy.write_text(_notebook("x = 7  # written before the kit kept records"))
    results = workcopy.ensure(config, root=repo)
    assert _actions(results)[copy.name] == "kept"
    assert "x = 7" in copy.read_text()
    (config.work / workcopy.MANIFEST).write_text("{not json")  # a damaged record forgets nothing of theirs
    assert _actions(workcopy.ensure(config, root=repo))[copy.name] == "kept"


def test_a_deleted_copy_comes_back(repo, config):
    workcopy.ensure(config, root=repo)
    copy = workcopy.notebook(LAB, config)
    copy.unlink()
    assert _actions(workcopy.ensure(config, root=repo))[copy.name] == "created"
    assert copy.is_file()


def test_fresh_keeps_the_learners_copy_as_a_backup(repo, config):
    workcopy.ensure(config, root=repo)
    copy = workcopy.notebook(LAB, config)
    mine = _notebook("x = 42  # mine")
    copy.write_text(mine)
    newer = _notebook("x = None  # your answer, now with a hint")
    _release(repo, LAB, newer)

    first = workcopy.fresh("0", config, root=repo, now=0.0)
    backups = [r.backup for r in first if r.backup]
    assert copy.read_text() == newer
    assert [b.name for b in backups] == [f"{LAB}.backup-19700101-000000.ipynb"]
    assert backups[0].read_text() == mine and backups[0].parent == copy.parent
    copy.write_text(mine)
    second = workcopy.fresh(LAB, config, root=repo, now=0.0)  # same second: a second backup, not an overwrite
    assert [r.backup.name for r in second if r.backup] == [f"{LAB}.backup-19700101-000000-2.ipynb"]
    assert _actions(workcopy.ensure(config, root=repo))[copy.name] == "current"


@pytest.mark.parametrize("given,lab", [("00-intro", "00-intro"), ("0", "00-intro"), ("00", "00-intro"),
                                       ("6", "06-drill"), ("06-d", "06-drill"), ("00-intro/", "00-intro")])
def test_a_lab_is_named_by_name_number_or_start(repo, given, lab):
    assert workcopy.find_lab(given, repo) == lab


@pytest.mark.parametrize("given", ["7", "intro", ""])
def test_an_unknown_lab_lists_the_labs(repo, given):
    with pytest.raises(InvalidInput) as err:
        workcopy.find_lab(given, repo)
    assert err.value.field == "lab" and "00-intro, 06-drill" in str(err.value)


def test_check_reads_the_working_copy_of_a_named_lab(repo, config, tmp_path):
    with pytest.raises(InvalidInput, match="kit labs copy 00-intro"):
        workcopy.resolve("00", config, repo)
    workcopy.ensure(config, root=repo)
    assert workcopy.resolve("00", config, repo) == workcopy.notebook(LAB, config)
    elsewhere = tmp_path / "mine.ipynb"
    elsewhere.write_text(_notebook("x = 1"))
    assert workcopy.resolve(str(elsewhere), config, repo) == elsewhere


def test_every_released_lab_gets_a_working_copy(config):
    results = workcopy.ensure(config)
    labs = workcopy.lab_names()
    assert labs and {r.lab for r in results} == set(labs)
    assert all(workcopy.notebook(lab, config).is_file() for lab in labs)
    assert REPO_ROOT not in config.work.parents


def test_kit_labs_copy_and_kit_check_take_a_lab_number(tmp_path, monkeypatch, capsys):
    from kit.cli import main

    monkeypatch.setenv("KIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KIT_WORK_DIR", raising=False)
    work = tmp_path / "state" / "work"
    assert main(["check", "00"]) == 2
    assert "kit labs copy 00-mob-and-sandbox" in capsys.readouterr().err
    assert main(["labs", "copy", "0"]) == 0
    assert str(work) in capsys.readouterr().out and (work / "00-mob-and-sandbox").is_dir()
    assert not (work / "01-instrumentation").exists()
    assert main(["labs", "copy", "--fresh"]) == 2
    assert "kit labs copy 00 --fresh" in capsys.readouterr().err
    copy = work / "00-mob-and-sandbox" / "00-mob-and-sandbox.ipynb"
    copy.write_text(copy.read_text().replace("raise NotImplementedError()", "roster = ['mine']", 1))
    assert main(["labs", "copy", "00", "--fresh"]) == 0
    assert "yours is now" in capsys.readouterr().out
    assert [p.name for p in copy.parent.glob("*.backup-*.ipynb")]
    assert "roster = ['mine']" not in copy.read_text()
