"""The sandbox's processes: their names, start and stop order, ports, health checks and command lines."""

from __future__ import annotations

import os
import secrets
import sys

import httpx

from .. import binaries, localhttp
from ..config import CONTENT, Config
from .record import ReleaseRecord

# Status and stop order (stopped in reverse: traffic first, payments last; HAProxy before the shop it serves).
PROCESS_NAMES = ("payments", "shop", "proxy", "pager", "alertmanager", "prometheus", "traffic")


# Start order: Prometheus first. Prometheus 2.42 applies its first target set only on its scrape
# manager's 5 s reload tick, counted from its own start, so `up` can return no sooner than that
# tick after Prometheus is spawned; everything else is healthy within ~1-4 s, well inside the tick.
START_ORDER = ("prometheus", "alertmanager", "pager", "payments", "shop", "proxy", "traffic")


# Host names used in sandbox/*.yml (and by docker-compose) → the Config field holding the port Prometheus scrapes
# them on: the stable shop process directly, and HAProxy's exporter.
HOST_PORTS = {
    "shop": "shop_stable_port", "payments": "payments_port", "pager": "pager_port",
    "prometheus": "prometheus_port", "alertmanager": "alertmanager_port", "proxy": "proxy_port",
}

# The port each process is known by in `kit status` and must find free: HAProxy's is the shop's public port.
LISTEN_PORTS = {**HOST_PORTS, "proxy": "shop_port"}
# Every port a process binds, each checked free before it starts: HAProxy also binds its exporter's.
BOUND_PORTS = {**{name: (field,) for name, field in LISTEN_PORTS.items()}, "proxy": ("shop_port", "proxy_port")}


HEALTH_PATHS = {
    "shop": "/health", "payments": "/health", "pager": "/health",
    "alertmanager": "/-/ready", "prometheus": "/-/ready", "proxy": "/health",
}


def ensure_token(config: Config) -> None:
    if config.token_file.exists() and config.token_file.stat().st_size:
        return
    fd = os.open(config.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(24))
    os.chmod(config.token_file, 0o600)


def argv_for(name: str, config: Config, tools: dict[str, binaries.Found]) -> list[str]:
    py = [sys.executable, "-m"]
    host = config.host
    common = ["--host", host] + (["--allow-remote"] if config.allow_remote else [])
    if name == "payments":
        return py + ["kit.shop.service", "payments", *common, "--port", str(config.payments_port),
                     "--token-file", str(config.token_file), "--secret-file", str(config.secret_drill_file)]
    if name == "shop":
        return shop_argv(config, config.shop_stable_port, ReleaseRecord.load(config).stable, "stable")
    if name == "proxy":
        return [str(tools["haproxy"].path), "-f", str(config.paths.proxy_config), "-db"]
    if name == "pager":  # kit.pager's receiver, recording who was on call for each page
        return py + ["kit.ownership.paging", *common, "--port", str(config.pager_port),
                     "--store", str(config.paths.notifications), "--oncall", str(CONTENT.oncall)]
    if name == "alertmanager":
        return [str(tools["alertmanager"].path), f"--config.file={config.paths.alertmanager_config}",
                f"--storage.path={config.paths.alertmanager_data}",
                f"--web.listen-address={host}:{config.alertmanager_port}",
                "--cluster.listen-address=", "--log.level=warn"]
    if name == "prometheus":
        return [str(tools["prometheus"].path), f"--config.file={config.paths.prometheus_config}",
                f"--storage.tsdb.path={config.paths.prometheus_data}",
                f"--web.listen-address={host}:{config.prometheus_port}",
                "--web.enable-lifecycle", "--web.enable-admin-api",
                f"--rules.alert.resend-delay={config.profile_spec.resend_delay}",
                "--storage.tsdb.retention.time=90d", "--log.level=warn"]
    if name == "traffic":
        return py + ["kit.shop.traffic", "--shop", config.url("shop"), "--rps", str(config.traffic_rps)]
    raise KeyError(name)


def shop_argv(config: Config, port: int, version: str, track: str) -> list[str]:
    """The command line of a shop process: the stable one, or a canary (kit.releases.canary) on its own port."""
    common = ["--host", config.host] + (["--allow-remote"] if config.allow_remote else [])
    return [sys.executable, "-m", "kit.shop.service", "shop", *common, "--port", str(port),
            "--payments-url", config.url("payments"), "--token-file", str(config.token_file),
            "--secret-file", str(config.secret_drill_file), "--slots", str(config.shop_slots),
            "--queue", str(config.shop_queue), "--version", version, "--track", track,
            "--flags-file", str(config.paths.flags)]


def wanted(config: Config) -> tuple[str, ...]:
    return tuple(n for n in PROCESS_NAMES if n != "traffic" or config.traffic_rps > 0)


def require_free(name: str, field_name: str, config: Config) -> None:
    """Raise PortBusy when ``name`` could not listen on the port of ``config``'s ``field_name`` (``shop_port``,
    ...), naming the port, its KIT_* variable, why, and on a hub the learner whose block it is."""
    from .. import procs
    from ..errors import PortBusy

    port = getattr(config, field_name)
    problem = procs.port_problem(config.host, port)
    if problem is not None:
        raise PortBusy(name, port, Config.__dataclass_fields__[field_name].metadata["env"], problem,
                       learner=os.environ.get("JUPYTERHUB_USER"))


def port_of(name: str, config: Config) -> int | None:
    return getattr(config, LISTEN_PORTS[name]) if name in LISTEN_PORTS else None


def probe(client: httpx.Client, name: str, config: Config) -> int | None:
    """The HTTP status of the process's health check, 200 for processes without one, None when it does not answer."""
    if name not in HEALTH_PATHS:
        return 200
    try:
        base = config.url(HOST_PORTS[name].removesuffix("_port"))
        return client.get(f"{base}{HEALTH_PATHS[name]}", timeout=localhttp.STATUS_TIMEOUT_S).status_code
    except httpx.HTTPError:
        return None
