"""The sandbox's web UIs in a Jupyter server: Prometheus, Alertmanager and the shop's API docs at the server's URL.

The sandbox listens on loopback only, so a learner on a JupyterHub, or a mob member on another laptop, cannot
open ``127.0.0.1:19090``. jupyter-server-proxy forwards ``<server URL>/prometheus/``, ``/alertmanager/`` and
``/shop/`` to the sandbox's ports, behind the server's own login (the hub's, or JupyterLab's token), and puts a
launcher entry for each in JupyterLab. Both a hub's single-user servers and `kit lab` load this module as a
Jupyter server extension (``ARGUMENTS``); when it is linked it adds its entries to ``ServerProxy.servers``
(entries the server's own config names the same way win), with the ports of the sandbox this server's
environment talks to (``kit.config.resolve``), and when it is loaded it serves them: those named UIs only,
never an arbitrary port (``routes``).

Behind a path prefix each UI must still find its links, assets and API: Prometheus's React UI and
Alertmanager's use relative paths, and their redirects start with ``/``, which the proxy prefixes. Prometheus's
classic UI (the only one Debian's package ships) writes root-relative links and an empty ``PATH_PREFIX`` into
its pages when it runs without ``--web.external-url``; ``prefix_page`` rewrites those pages as they pass, so the
same Prometheus works at its own port and through any number of proxies, and ``kit up`` needs no flag for it.
The shop reads the proxy's ``X-Forwarded-Prefix`` itself (see ``kit.shop.service``). Alertmanager's API names
each alert's source with the URL Prometheus believes it has (``generatorURL``: ``http://<host name>:<port>/graph?``
and the query), which a browser on another machine cannot open; ``point_sources`` makes those links the proxied
Prometheus's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .config import Config, resolve

EXTENSION = "kit.uiproxy"
PROXY = "jupyter_server_proxy"
ARGUMENTS = (f"--ServerApp.jpserver_extensions={EXTENSION}=True", f"--ServerApp.jpserver_extensions={PROXY}=False")
"""Appended to a Jupyter server's command line (`kit lab`, a hub's single-user server) to serve the UIs:
this extension on, jupyter-server-proxy's own off (this one serves its named routes, see ``routes``)."""
CATEGORY = "Sandbox"
"""The JupyterLab launcher's section that holds the entries."""


@dataclass(frozen=True)
class SandboxUI:
    """One UI: proxied at ``<server URL>/<name>/`` to the port of sandbox ``process``; the launcher opens ``opens``."""

    name: str
    process: str
    title: str
    opens: str


UIS = (
    SandboxUI("prometheus", "prometheus", "Prometheus", "prometheus/"),
    SandboxUI("alertmanager", "alertmanager", "Alertmanager", "alertmanager/"),
    SandboxUI("shop", "shop", "Shop API docs", "shop/docs"),
)

_EMPTY_PREFIX = re.compile(rb'var PATH_PREFIX = "";')
_ROOT_LINK = re.compile(rb'\b(href|src|action)="/(?!/)')


def servers(config: Config, base_url: str = "/") -> dict[str, dict]:
    """``ServerProxy.servers`` entries for the sandbox of ``config`` in a server at ``base_url`` (a URL path).

    Each entry proxies to an already running port (no command: the sandbox is `kit up`'s to start), opens
    in a new browser tab, and has a named, titled launcher entry in the ``CATEGORY`` section.
    """
    entries = {}
    for ui in UIS:
        entry = {
            "port": getattr(config, f"{ui.process}_port"),
            "launcher_entry": {"title": ui.title, "path_info": ui.opens, "category": CATEGORY},
            "new_browser_tab": True,
        }
        if ui.name == "prometheus":
            entry["rewrite_response"] = _prefixing(_proxied(base_url, ui.name))
        if ui.name == "alertmanager":
            entry["rewrite_response"] = _pointing(config.prometheus_port, _proxied(base_url, "prometheus"))
        entries[ui.name] = entry
    return entries


def _proxied(base_url: str, name: str) -> str:
    """The URL path of UI ``name`` in a server at ``base_url``: ``/user/ada/prometheus``."""
    return "/" + "/".join(part for part in (*base_url.split("/"), name) if part)


def prefix_page(response, prefix: str) -> None:
    """Make a Prometheus page that believes it is served at the root work at URL path ``prefix``.

    ``response`` is jupyter-server-proxy's RewritableResponse (``headers``, ``body`` bytes), changed in place.
    Only HTML pages that say their ``PATH_PREFIX`` is empty are touched: their root-relative ``href``,
    ``src`` and ``action`` links and the prefix their scripts call the API under get ``prefix``; every other
    response (the API's JSON, scripts, styles, a page that already knows its prefix) passes unchanged.
    """
    if not response.headers.get("Content-Type", "").startswith("text/html"):
        return
    if not _EMPTY_PREFIX.search(response.body):
        return
    at = prefix.rstrip("/").encode()
    body = _EMPTY_PREFIX.sub(b'var PATH_PREFIX = "' + at + b'";', response.body)
    response.body = _ROOT_LINK.sub(rb'\1="' + at + b"/", body)


def point_sources(response, prometheus_port: int, prefix: str) -> None:
    """Make the alerts' source links in an Alertmanager API answer open the Prometheus proxied at URL path ``prefix``.

    ``response`` as for ``prefix_page``. Prometheus links each alert it sends to its expression on its own page,
    under its external URL, which by default is ``http://<the host's name>:<its port>/``: reachable from the host
    only, since the sandbox listens on loopback. In JSON answers, every ``generatorURL`` on ``prometheus_port``
    gets ``prefix`` in place of its scheme, host and port; nothing else changes.
    """
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return
    origin = re.compile(rb'("generatorURL":\s*")https?://[^/"]+:' + str(prometheus_port).encode() + rb"/")
    response.body = origin.sub(rb"\g<1>" + prefix.rstrip("/").encode() + b"/", response.body)


def _pointing(prometheus_port: int, prefix: str):
    """``point_sources`` as jupyter-server-proxy calls it (see ``_prefixing``)."""
    def rewrite(response) -> None:
        point_sources(response, prometheus_port, prefix)
    return rewrite


def _prefixing(prefix: str):
    """``prefix_page`` for ``prefix``, as jupyter-server-proxy calls it: it passes arguments by their names
    in the function's code, so neither a default nor a ``functools.partial`` would do."""
    def rewrite(response) -> None:
        prefix_page(response, prefix)
    return rewrite


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": EXTENSION}]


def _link_jupyter_server_extension(serverapp) -> None:
    """Add the entries before jupyter-server-proxy, loaded after every extension is linked, reads its config."""
    own = dict(serverapp.config.ServerProxy.get("servers", {}))
    serverapp.config.ServerProxy.servers = {**servers(resolve(), serverapp.base_url), **own}


def routes(serverapp) -> list[tuple]:
    """Tornado routes of jupyter-server-proxy's named servers (``ServerProxy.servers``) and of the launcher's
    API, and nothing else.

    jupyter-server-proxy's own extension also serves ``<server URL>/proxy/<port>/`` and
    ``/proxy/<host>:<port>/`` to any loopback port, which it cannot be told not to: through a hub that would
    hand every learner every other learner's sandbox (their ports are on the same loopback), and through a
    mob's ``--lan`` server every service of the host's loopback. So the kit leaves that extension off and
    serves only the named routes, with its building blocks.
    """
    from jupyter_server.utils import url_path_join
    from jupyter_server_proxy.api import IconHandler, ServersInfoHandler
    from jupyter_server_proxy.config import ServerProxy, make_handlers

    base_url = serverapp.web_app.settings["base_url"]
    processes = list(ServerProxy(parent=serverapp).servers.values())
    icons = {p.name: p.launcher_entry.icon_path for p in processes
             if p.launcher_entry.enabled and p.launcher_entry.icon_path}
    return [*make_handlers(base_url, processes),
            (url_path_join(base_url, "server-proxy/servers-info"), ServersInfoHandler, {"server_processes": processes}),
            (url_path_join(base_url, "server-proxy/icon/(.*)"), IconHandler, {"icons": icons})]


def _load_jupyter_server_extension(serverapp) -> None:
    serverapp.web_app.add_handlers(".*", routes(serverapp))
    serverapp.log.info("kit.uiproxy: the sandbox's UIs at %s", ", ".join(f"{ui.name}/" for ui in UIS))
