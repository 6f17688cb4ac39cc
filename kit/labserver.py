"""How `kit lab` starts JupyterLab: a learner's screen, or a facilitator's.

Only JupyterLab's own mechanisms are used: ServerApp and ContentsManager traitlets on
the command line, and a ``labconfig/page_config.json`` (``disabledExtensions``) in a
Jupyter config folder the kit owns under its state folder, put first on
``JUPYTER_CONFIG_PATH``. The user's own Jupyter config (``JUPYTER_CONFIG_DIR``) is
still read and is never written.

A learner's JupyterLab opens in the working folder (``kit.grading.workcopy``) and shows no
nbgrader tools; a facilitator's (``kit lab --facilitator``) opens the repository with
nbgrader's menu, Create Assignment panel, Validate button and formgrader. Nobody gets
the Jupyter news and update pop-up, nor the install's ``*.egg-info`` folder. Real-time
collaboration (jupyter-collaboration) is off, so one person's notebook is saved as it always
was, except on a mob's shared server (``kit lab --mob``, kit.mobserver).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from . import uiproxy
from .config import REPO_ROOT, Config
from .errors import InvalidInput

NEWS = "@jupyterlab/apputils-extension:announcements"
"""JupyterLab's plugin that asks to fetch Jupyter news and checks for updates, in a pop-up."""
NBGRADER_LAB = "@jupyter/nbgrader"
"""nbgrader's JupyterLab extension: its menu, Create Assignment, Validate, assignment and course lists."""
NBGRADER_SERVER = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)
HIDDEN_FILES = ("*.egg-info",)
"""Added to JupyterLab's hidden files: the folder `pip install -e .` leaves in the repository."""


@dataclass(frozen=True)
class LabLaunch:
    """The command line and environment of JupyterLab for `kit lab`.

    ``config_dir`` is the kit's Jupyter config folder; ``page_config`` goes into its
    ``labconfig/page_config.json`` (``write_page_config``) before JupyterLab starts.
    """

    argv: list[str]
    env: dict[str, str]
    root_dir: Path
    config_dir: Path
    page_config: dict
    opens: str | None
    facilitator: bool


def settings(config: Config, *, port: int, lan: bool = False, facilitator: bool = False, browser: bool = True,
             env: dict[str, str] | None = None, root: Path = REPO_ROOT, collaborate: bool = False) -> LabLaunch:
    """JupyterLab's settings for `kit lab` on ``port`` (TCP): a learner's unless ``facilitator``.

    A learner's server serves ``config.work`` and opens the first lab's working copy
    there; a facilitator's serves the repository ``root``. ``lan`` listens on every
    address (token auth stays on). ``env`` is the environment to extend (default: this process's).
    ``collaborate`` leaves real-time collaboration on (a mob's server, see kit.mobserver).
    """
    from .grading.workcopy import lab_names

    env = dict(os.environ if env is None else env)
    root_dir = Path(root) if facilitator else config.work
    config_dir = config.paths.jupyter("facilitator" if facilitator else "learner")
    hidden = [NEWS] if facilitator else [NEWS, NBGRADER_LAB]
    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root_dir}",
            f"--ServerApp.ip={'0.0.0.0' if lan else '127.0.0.1'}", f"--ServerApp.port={port}",
            # on that port or not at all: Jupyter would otherwise serve on another one, away from the address `kit
            # lab`, a mob's join links and the tests name (``check_port`` refuses a busy port first, with a message)
            "--ServerApp.port_retries=0", "--ServerApp.answer_yes=True"]
    if not collaborate:
        argv.append("--YDocExtension.disable_rtc=True")
    argv += [f"--ContentsManager.hide_globs={glob}" for glob in _hide_globs()]
    if not facilitator:
        argv += [f"--ServerApp.jpserver_extensions={name}=False" for name in _nbgrader_server_extensions()]
    argv += uiproxy.ARGUMENTS  # the sandbox's UIs at this server's URL, for mob members on other laptops too
    labs = lab_names(root)
    opens = None if facilitator or not labs else f"{labs[0]}/{labs[0]}.ipynb"
    if opens:
        argv.append(opens)
    if not browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--ServerApp.allow_root=True")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (str(config_dir), env.get("JUPYTER_CONFIG_PATH")) if p)
    return LabLaunch(argv, env, root_dir, config_dir, {"disabledExtensions": {name: True for name in hidden}},
                     opens, facilitator)


def check_port(host: str, port: int, *, advice: str = "Is JupyterLab already running there (another `kit lab`)? "
                                                     "Open that one, or pick another port with --port N") -> None:
    """Refuse a port something already holds (another `kit lab`, a `jupyter lab`), before anything is started.

    Raises InvalidInput (field ``--port``) saying what holds it, then ``advice``: what to do.
    """
    from .procs import port_problem

    problem = port_problem(host, port)
    if problem is not None:
        raise InvalidInput("--port", f"{port} cannot be used: {problem}. {advice}")


def write_page_config(launch: LabLaunch) -> Path:
    """Write the launch's page config into the kit's Jupyter config folder; returns the file."""
    path = launch.config_dir / "labconfig" / "page_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(launch.page_config, indent=2), encoding="utf-8")
    return path


def _hide_globs() -> list[str]:
    """Jupyter's own hidden-file patterns (the command line replaces them, so they are repeated) and the kit's."""
    from jupyter_server.services.contents.manager import ContentsManager

    return [*ContentsManager.class_traits()["hide_globs"].default(), *HIDDEN_FILES]


def _nbgrader_server_extensions() -> list[str]:
    """nbgrader's server extensions: the known ones and any other its install enables in the Jupyter config."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    enabled = ExtensionConfigManager(read_config_path=jupyter_config_path()).get_jpserver_extensions()
    return sorted({*NBGRADER_SERVER, *(name for name in enabled if name.split(".")[0] == "nbgrader")})
