"""A cohort on one host: JupyterHub spawns every learner's Jupyter server, each with a sandbox of its own.

- ``ports``: the port registry, a block of the sandbox's ports per learner, allocated once and remembered
- ``learners``: what the hub gives a learner's server (their ports as KIT_* variables) and how it runs it
- ``serversandbox``: the Jupyter server extension that runs the learner's sandbox for the life of their server
- ``firewall``: nftables rules that open each learner's ports on loopback only to that learner (and root)
- ``exchange``: nbgrader's exchange for the cohort: release → fetch → submit → collect, then ``kit grade``

The sandbox's UIs reach the learner through their own server's URL (``kit.uiproxy``); hub/README.md is the
facilitator's guide and hub/jupyterhub_config.py the hub's configuration.
"""

from __future__ import annotations

from .exchange import Exchange, collect, fetch, release, submit
from .learners import environment, pre_spawn_hook, singleuser_command
from .ports import PORT_SETTINGS, PortBlock, PortRange, PortRegistry

__all__ = [
    "Exchange", "PORT_SETTINGS", "PortBlock", "PortRange", "PortRegistry", "collect", "environment", "fetch",
    "pre_spawn_hook", "release", "singleuser_command", "submit",
]
