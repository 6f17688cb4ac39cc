"""What the hub gives a learner's Jupyter server: their ports, the exchange, and a sandbox for the server's life.

``pre_spawn_hook`` is JupyterHub's ``Spawner.pre_spawn_hook``: it looks up (or allocates) the learner's port
block and adds it to the server's environment as KIT_*_PORT variables, with the exchange's folder and course.
Everything the server starts inherits them (terminals, kernels, `kit up`, nbgrader), so each learner's `kit`
talks to their own sandbox without a setting of their own. ``singleuser_command`` is ``Spawner.cmd``:
`kit hub serve` becomes JupyterHub's single-user server with the sandbox's UIs (``kit.uiproxy``) and the
learner's sandbox (``kit.hub.serversandbox``), which stops with the server.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

from .exchange import COURSE_ENV, EXCHANGE_ENV, Exchange
from .firewall import protect, table_name
from .ports import PortBlock, PortRange, PortRegistry, server_port


ROLE_ENV = "KIT_HUB_ROLE"
"""Set by ``pre_spawn_hook``: ``facilitator`` for the hub's admins, ``learner`` for everyone else."""
INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
"""nbgrader's server extensions for whoever makes and grades labs: a learner's server does without them and keeps
the Assignments tab and Validate. (They weigh about 10 MB in a plain `jupyter lab`, next to nothing in the hub's
single-user server, which imports the same libraries for JupyterHub.)"""
INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                          "@jupyter/nbgrader:create-assignment")
"""Their JupyterLab side, hidden from learners so no menu entry leads to a tool their server does not run."""


SOLO = "--YDocExtension.disable_rtc=True"
"""Real-time collaboration off, as in `kit lab`: each learner's notebook is theirs alone on the hub, saved as
JupyterLab always saved it (shared documents have lost cells after long disconnects)."""


def write_jupyter_config(folder: Path | str, exchange: Exchange) -> Path:
    """One Jupyter config folder per role under ``folder`` (``learner``, ``facilitator``), each with the
    ``nbgrader_config.json`` the Assignments tab needs, the learner's also with JupyterLab's page config that
    hides ``INSTRUCTOR_LAB_PLUGINS``. Every user can read them (the hub's own folder is the hub's alone).
    Returns ``folder``, for ``pre_spawn_hook``'s ``jupyter_config``."""
    folder = Path(folder)
    for name in ("learner", "facilitator"):
        files = {folder / name / "nbgrader_config.json": exchange.nbgrader_config()}
        if name == "learner":
            files[folder / name / "labconfig" / "page_config.json"] = {
                "disabledExtensions": {plugin: True for plugin in INSTRUCTOR_LAB_PLUGINS}}
        for path, content in files.items():
            path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            path.write_text(json.dumps(content, indent=1), encoding="utf-8")
            path.chmod(0o644)
    return folder


def environment(user: str, registry: PortRegistry, exchange: Exchange | None = None) -> dict[str, str]:
    """The variables a learner's server gets: their ports (allocated on first use) and, when given, the exchange.

    Raises what ``PortRegistry.assign`` raises (InvalidInput: no name, no block left, a damaged registry).
    """
    return _block_environment(registry.assign(user), exchange)


def _block_environment(block: PortBlock, exchange: Exchange | None) -> dict[str, str]:
    env = block.environment()
    if exchange is not None:
        env[EXCHANGE_ENV] = str(exchange.root)
        env[COURSE_ENV] = exchange.course
    return env


def pre_spawn_hook(registry: Path | str, *, exchange: Exchange | None = None,
                   port_range: PortRange = PortRange(), firewall: str | None = None,
                   jupyter_config: Path | None = None) -> Callable:
    """A ``Spawner.pre_spawn_hook`` giving each learner ``environment`` from the registry file ``registry``,
    and their role (``ROLE_ENV``): the hub's admins are facilitators. With ``jupyter_config`` (made by
    ``write_jupyter_config``), JUPYTER_CONFIG_PATH is the role's folder in it. The server listens on the port
    after the learner's block (``ports.server_port``).

    The spawner's environment is replaced, not changed in place: JupyterHub may hand every spawner the same
    dict from its config, and one learner's ports must never leak into another's. With ``firewall``, the name
    of an nftables table, the learners' firewall (``kit.hub.firewall``) is applied again once the learner has
    ports, so their block is open only to them (and root) before their sandbox starts; the hub must run as
    root then, and a spawn fails with FirewallFailed, BinaryMissing (no nft) or InvalidInput (a learner with
    no system account) rather than start a sandbox anyone on the host could reach.
    """
    ports = PortRegistry(registry, port_range)
    if firewall is not None:
        table_name(firewall)  # a bad name stops the hub at start, not at the first learner's spawn

    def hook(spawner) -> None:
        role = "facilitator" if spawner.user.admin else "learner"
        block = ports.assign(spawner.user.name)
        spawner.environment = {**spawner.environment, **_block_environment(block, exchange), ROLE_ENV: role}
        if jupyter_config is not None:
            spawner.environment["JUPYTER_CONFIG_PATH"] = str(Path(jupyter_config) / role)
        port = server_port(block, port_range)
        if port is not None:
            spawner.port = port
        if firewall is not None:
            protect(ports, table=firewall)

    return hook


def singleuser_command() -> list[str]:
    """``Spawner.cmd``: `kit hub serve` with this Python, which JupyterHub extends with the server's arguments."""
    return [sys.executable, "-m", "kit.cli", "hub", "serve"]


def singleuser_argv(arguments: list[str]) -> list[str]:
    """The command line of JupyterHub's single-user server given the hub's ``arguments``, with the sandbox's UIs
    and the learner's sandbox (``kit.hub.serversandbox``).

    Jupyter refuses to run as root unless told to: a hub whose learners share the root account (a container,
    a test) runs it so on purpose."""
    from ..uiproxy import ARGUMENTS

    root = ["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []
    learner = [] if os.environ.get(ROLE_ENV) == "facilitator" else [
        f"--ServerApp.jpserver_extensions={name}=False" for name in INSTRUCTOR_SERVER_EXTENSIONS]
    sandbox = ["--ServerApp.jpserver_extensions=kit.hub.serversandbox=True"]
    return [sys.executable, "-m", "jupyterhub.singleuser", *arguments, *ARGUMENTS, *sandbox, SOLO, *learner, *root]
