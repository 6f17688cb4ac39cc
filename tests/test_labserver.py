"""`kit lab`'s JupyterLab settings, read back by Jupyter Server and JupyterLab themselves, in process."""

from __future__ import annotations

import json
import os

import pytest

from kit import labserver
from kit.config import REPO_ROOT, Config
from kit.grading import workcopy

NBGRADER_LAB_PLUGINS = ("@jupyter/nbgrader:menu", "@jupyter/nbgrader:create-assignment",
                        "@jupyter/nbgrader:validate-assignment", "@jupyter/nbgrader:formgrader")


@pytest.fixture
def config(tmp_path) -> Config:
    return Config.from_env({"KIT_STATE_DIR": str(tmp_path / "state")})


@pytest.fixture
def jupyter_home(tmp_path, monkeypatch):
    """The user's own Jupyter config folder, with a page config of their own."""
    home = tmp_path / "user-jupyter"
    (home / "labconfig").mkdir(parents=True)
    (home / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {"user:own": True}}))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(home))
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    return home


def _served(launch: labserver.LabLaunch, monkeypatch):
    """Jupyter Server initialised in process from the launch's command line and environment (no socket opened)."""
    from jupyter_server.serverapp import ServerApp

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", launch.env["JUPYTER_CONFIG_PATH"])
    labserver.write_page_config(launch)
    assert launch.argv[1:4] == ["-m", "jupyter", "lab"]
    args = [a for a in launch.argv[4:] if a != launch.opens]
    app = ServerApp.instance()
    try:
        app.initialize(args, find_extensions=True, new_httpserver=False)
        enabled = {name: ext.enabled for name, ext in app.extension_manager.extensions.items()}
        return app.root_dir, app.contents_manager, enabled
    finally:
        ServerApp.clear_instance()


def _page_config() -> dict:
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_page_config

    return get_page_config(jupyter_path("labextensions"))


def test_a_learner_gets_their_working_copy_without_nbgrader_or_news(config, jupyter_home, monkeypatch):
    workcopy.ensure(config)
    launch = labserver.settings(config, port=8899, browser=False)
    root_dir, contents, enabled = _served(launch, monkeypatch)

    assert root_dir == str(config.work) and not launch.facilitator
    assert launch.opens == "00-mob-and-sandbox/00-mob-and-sandbox.ipynb" and (config.work / launch.opens).is_file()
    nbgrader = {name: on for name, on in enabled.items() if name.startswith("nbgrader")}
    assert nbgrader and not any(nbgrader.values()), nbgrader
    assert enabled["jupyterlab"]
    assert contents.should_list("reliability_dojo.egg-info") is False
    assert contents.should_list("00-mob-and-sandbox") and "__pycache__" in contents.hide_globs

    disabled = set(_page_config()["disabledExtensions"])
    assert {"@jupyter/nbgrader", labserver.NEWS, "user:own"} <= disabled
    assert json.loads((jupyter_home / "labconfig" / "page_config.json").read_text()) == \
        {"disabledExtensions": {"user:own": True}}, "the user's own Jupyter config is never written"
    assert str(launch.config_dir).startswith(config.state_dir)


def test_a_facilitator_gets_the_repository_with_nbgrader_but_no_news(config, jupyter_home, monkeypatch):
    launch = labserver.settings(config, port=8899, browser=False, facilitator=True)
    root_dir, contents, enabled = _served(launch, monkeypatch)

    assert root_dir == str(REPO_ROOT) and launch.opens is None
    assert all(on for name, on in enabled.items() if name.startswith("nbgrader"))
    assert contents.should_list("reliability_dojo.egg-info") is False
    disabled = set(_page_config()["disabledExtensions"])
    assert labserver.NEWS in disabled
    assert not any(plugin.startswith("@jupyter/nbgrader") for plugin in disabled), disabled
    assert not set(NBGRADER_LAB_PLUGINS) & disabled


def test_the_kit_config_folder_comes_first_and_keeps_the_users_path(config):
    launch = labserver.settings(config, port=8899, env={"JUPYTER_CONFIG_PATH": "/etc/site-jupyter"})
    assert launch.env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(launch.config_dir), "/etc/site-jupyter"]
    assert "--no-browser" not in launch.argv and "--ServerApp.ip=127.0.0.1" in launch.argv
    assert "--ServerApp.ip=0.0.0.0" in labserver.settings(config, port=8899, lan=True).argv


def test_a_busy_port_is_refused_before_anything_starts_and_jupyter_never_moves_to_another(config):
    import socket

    from kit.errors import InvalidInput
    from kit.procs import free_port

    from kit import mobserver

    mob = mobserver.collaborative(labserver.settings(config, port=8899, browser=False, collaborate=True), config)
    for launch in (labserver.settings(config, port=8899, browser=False, facilitator=facilitator)
                   for facilitator in (False, True)):
        assert launch.argv.count("--ServerApp.port_retries=0") == 1 and "--ServerApp.port=8899" in launch.argv
    assert mob.argv.count("--ServerApp.port_retries=0") == 1  # Jupyter refuses a setting given twice
    port = free_port()
    labserver.check_port("127.0.0.1", port)  # free: nothing to say
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        with pytest.raises(InvalidInput, match=f"{port} cannot be used: .*--port N") as refused:
            labserver.check_port("127.0.0.1", port)
    assert refused.value.field == "--port"
