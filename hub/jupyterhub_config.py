"""JupyterHub for a Reliability Dojo cohort on one host (see README.md beside this file).

Every learner is a system user with a Jupyter server of their own, started as that user by
LocalProcessSpawner (as The Littlest JupyterHub does), with a sandbox of their own on ports the kit
remembers for them. Start it from this folder with the kit's virtual environment:

    sudo /opt/reliability-dojo/.venv/bin/jupyterhub -f hub/jupyterhub_config.py

Settings a host changes come from the environment, so this file stays as it is:
KIT_HUB_STATE (the hub's own folder: database, cookie secret, port registry; default /srv/jupyterhub),
KIT_HUB_URL (where the hub listens; default http://:8000), KIT_HUB_ADMINS (comma-separated facilitators),
KIT_HUB_EXCHANGE and KIT_HUB_COURSE (the nbgrader exchange folder and course id), KIT_HUB_FIREWALL (the nftables
table that opens each learner's ports on loopback only to them; default reliability_dojo, empty for none).
"""

import os

from kit.hub import Exchange, pre_spawn_hook, singleuser_command
from kit.hub.firewall import TABLE
from kit.hub.learners import write_jupyter_config

c = get_config()  # noqa: F821 - JupyterHub provides it when it loads this file

here = os.path.dirname(os.path.abspath(__file__))
state = os.environ.get("KIT_HUB_STATE", "/srv/jupyterhub")
os.makedirs(state, mode=0o700, exist_ok=True)
exchange = Exchange.from_env()

c.JupyterHub.bind_url = os.environ.get("KIT_HUB_URL", "http://:8000")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(state, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(state, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(state, "jupyterhub.pid")
# The proxy is the one hub/package-lock.json pins, installed into hub/node_modules (see README.md).
c.ConfigurableHTTPProxy.command = [os.path.join(here, "node_modules", ".bin", "configurable-http-proxy")]

# Learners log in with their system account; facilitators are hub admins.
c.JupyterHub.authenticator_class = "jupyterhub.auth.PAMAuthenticator"
c.Authenticator.admin_users = {name for name in os.environ.get("KIT_HUB_ADMINS", "").split(",") if name}
c.Authenticator.allow_existing_users = True

# Each learner's server runs as the learner, through `kit hub serve`: JupyterHub's single-user server with the
# sandbox's UIs at /user/NAME/prometheus/, /alertmanager/ and /shop/docs, which starts the learner's sandbox.
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.cmd = singleuser_command()
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 60
# How long the hub waits for a started server to answer: JupyterHub's 30 s default is short for a busy host where
# a whole cohort logs in at once (each server loads JupyterLab's extensions while the sandboxes start).
c.Spawner.http_timeout = 60
# SIGINT, then SIGTERM: the server shuts its kernels down, then the learner's sandbox, within a few seconds.
c.LocalProcessSpawner.interrupt_timeout = 15

# Loopback is shared: the hook also applies the learners' firewall (nftables, `kit hub firewall` shows it), so a
# learner's sandbox ports refuse every connection but the learner's own and root's. It needs the hub to run as root.
firewall = os.environ.get("KIT_HUB_FIREWALL", TABLE) or None
# nbgrader's Assignments tab finds the exchange through a Jupyter config folder per role, which every user can
# read (the hub's own folder is the hub's alone): beside the exchange. A learner's server runs without nbgrader's
# formgrader and course list, and hides their menu entries; the hub's admins (facilitators) keep them.
jupyter_config = write_jupyter_config(os.path.join(os.path.dirname(str(exchange.root).rstrip("/")), "jupyter"), exchange)
c.Spawner.pre_spawn_hook = pre_spawn_hook(os.path.join(state, "kit-ports.json"), exchange=exchange, firewall=firewall,
                                          jupyter_config=jupyter_config)
