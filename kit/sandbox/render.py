"""The sandbox's configuration: prometheus.yml, alertmanager.yml, rules/ and haproxy.cfg rendered from ``sandbox/``,
and the shop's flag file (``flags.flagd.json``) copied from there when there is none yet.

Rendering fills in the profile's intervals and the configured ports, scales the rules' windows to the
profile's time scale, and adds the rule files installed at run time (``kit.sandbox.install_rules``). The
release (``release.json``: stable version, canary and its weight) gives HAProxy its weights and Prometheus
its shop targets (``shop-targets.json``, read through file_sd), so both follow a release without a restart.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from string import Template

import httpx

from ..atomicfile import write_atomically
from ..config import ALERTMANAGER_CONFIG, FLAGS_FILE, PROMETHEUS_CONFIG, PROXY_CONFIG, RULES_FOLDER, SHOP_TARGETS, Config
from ..errors import InvalidInput, SandboxNotReady
from ..flags import ensure_flags
from ..promfiles import read_yaml, write_yaml
from ..timescale import scale_rule_groups
from .processes import HOST_PORTS
from .record import ReleaseRecord

COMPOSE_PORTS = {"shop": 8080, "stable": 8083, "canary": 8084, "proxy": 8085}
"""Where the shop's listeners are inside the compose network: HAProxy's public and exporter ports, the shop processes'."""


def _retarget(target: str, config: Config, compose: bool) -> str:
    host, _, port = target.rpartition(":")
    if compose or host not in HOST_PORTS:
        return target
    return f"{config.host}:{getattr(config, HOST_PORTS[host])}"


def render(config: Config, out: Path, *, compose: bool = False) -> Path:
    """Write prometheus.yml, alertmanager.yml and rules/ for ``config``'s profile into ``out``.

    ``compose=True`` keeps the container host names (docker-compose); otherwise
    every target points at the configured loopback ports.
    """
    source = Path(config.sandbox_dir)
    profile = config.profile_spec
    out.mkdir(parents=True, exist_ok=True)

    prom = _load_yaml(source / PROMETHEUS_CONFIG)
    prom["global"]["scrape_interval"] = profile.scrape_interval
    prom["global"]["evaluation_interval"] = profile.evaluation_interval
    for job in prom["scrape_configs"]:
        for static in job.get("static_configs", []):
            static["targets"] = [_retarget(t, config, compose) for t in static["targets"]]
    for am in prom["alerting"]["alertmanagers"]:
        for static in am.get("static_configs", []):
            static["targets"] = [_retarget(t, config, compose) for t in static["targets"]]
    write_yaml(out / PROMETHEUS_CONFIG, prom)

    am = _load_yaml(source / ALERTMANAGER_CONFIG)
    am["route"].update(
        group_wait=profile.group_wait, group_interval=profile.group_interval,
        repeat_interval=profile.repeat_interval,
    )
    for receiver in am["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            url = httpx.URL(hook["url"])
            target = _retarget(f"{url.host}:{url.port}", config, compose)
            hook["url"] = str(url.copy_with(netloc=target.encode()))
    write_yaml(out / ALERTMANAGER_CONFIG, am)

    release = ReleaseRecord() if compose else ReleaseRecord.load(config)  # compose runs the default release
    write_shop_targets(config, out / SHOP_TARGETS, compose=compose)
    write_atomically(out / PROXY_CONFIG, proxy_config(config, release, compose=compose))
    ensure_flags(out / FLAGS_FILE, source / FLAGS_FILE)  # a flag changed with `kit flag` stays as it was set

    # File by file, each replaced at once, and the files no longer wanted removed last: a reader of the folder
    # (`kit status` counting rules while a `kit up` or a rule install renders) never finds a file half written.
    rules_out = out / RULES_FOLDER
    rules_out.mkdir(exist_ok=True)
    wanted: set[str] = set()
    for rule_file in sorted((source / RULES_FOLDER).glob("*.yml")):
        doc = scale_rule_groups(_load_yaml(rule_file), profile.time_scale)
        write_yaml(rules_out / rule_file.name, doc)
        wanted.add(rule_file.name)
    loaded: set[bytes] = set()
    for rule_file in sorted(installed_rules(config).glob("*.yml")):
        content = rule_file.read_bytes()
        if content in loaded:
            continue  # the same rules installed twice (by a learner and by a drill) are evaluated once
        loaded.add(content)
        write_atomically(rules_out / f"installed-{rule_file.name}", content, mode=0o644)
        wanted.add(f"installed-{rule_file.name}")
    for stale in rules_out.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    return out


def write_shop_targets(config: Config, path: Path, *, compose: bool = False) -> None:
    """The shop's two scrape slots (file_sd JSON): the stable process and the canary's, labelled with their ``track``.

    Both are always listed, whether a canary runs or not, and carry no version: the file never changes while the
    sandbox runs. Prometheus 2.42 acts on a changed target list only after two 5 s ticks (its discovery manager's,
    then its scrape manager's), so a canary that came and went as a target of its own cost a release up to 10 s at
    every deploy, promotion and rollback. The version is ``build_info``'s, which each shop exports itself. An empty
    canary slot is a target Prometheus cannot scrape (``up{track="canary"} == 0``), which no alert pages on. The
    compose sandbox runs the default release, stable alone (`kit release` drives processes, not containers).
    """
    groups = [{"targets": [f"shop:{COMPOSE_PORTS[track]}" if compose
                           else f"{config.url('shop_' + track).removeprefix('http://')}"],
               "labels": {"track": track}}
              for track in (("stable",) if compose else ("stable", "canary"))]
    write_atomically(path, json.dumps(groups, indent=1))


def _private_folder(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError as error:
        raise InvalidInput("state_dir", f"cannot make {folder} for HAProxy's runtime API socket: {error}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise InvalidInput("state_dir", f"{folder}, where HAProxy's runtime API socket goes (the state folder is "
                                        "too deep for a socket), is not a private folder of this user's; remove it "
                                        "or set KIT_STATE_DIR to a shorter folder")


def proxy_config(config: Config, release: ReleaseRecord, *, compose: bool = False) -> str:
    """HAProxy's configuration (``sandbox/haproxy.cfg`` filled in) for ``release``'s weights.

    Makes the runtime API socket's folder when it is not the state folder (``StatePaths.proxy_socket``), private
    to this user; InvalidInput (field ``state_dir``) when someone else's folder, or a link, is in its place.
    """
    socket = "/tmp/haproxy.sock" if compose else str(config.paths.proxy_socket)
    if not compose and config.paths.proxy_socket.parent != config.paths.root:
        _private_folder(config.paths.proxy_socket.parent)
    if compose:
        address = {name: f"{'shop-canary' if name == 'canary' else 'shop'}:{COMPOSE_PORTS[name]}"
                   for name in ("stable", "canary")}
        binds = {"bind": f"0.0.0.0:{COMPOSE_PORTS['shop']}", "stats_bind": f"0.0.0.0:{COMPOSE_PORTS['proxy']}"}
    else:
        address = {name: _haproxy_address(config.host, getattr(config, f"shop_{name}_port"))
                   for name in ("stable", "canary")}
        binds = {"bind": _haproxy_address(config.host, config.shop_port),
                 "stats_bind": _haproxy_address(config.host, config.proxy_port)}
    weight = release.canary_weight if release.canary else 0
    template = Template((Path(config.sandbox_dir) / PROXY_CONFIG).read_text())
    return template.substitute(
        socket=socket, stable=address["stable"], canary=address["canary"], stable_weight=100 - weight,
        canary_weight=weight, canary_state="" if release.canary else " disabled", **binds,
        server_options=" resolvers docker init-addr last,libc,none" if compose else "",
        resolvers=_COMPOSE_RESOLVERS if compose else "")


_COMPOSE_RESOLVERS = """
# Containers get a new address when they restart: ask Docker's DNS again rather than keep the first answer. A name
# that does not resolve yet (no canary container) leaves its server without an address until it does.
resolvers docker
    nameserver docker 127.0.0.11:53
    hold valid 5s
"""


def _haproxy_address(host: str, port: int) -> str:
    return f"ipv6@{host}:{port}" if ":" in host else f"{host}:{port}"


def installed_rules(config: Config) -> Path:
    """Rule files installed at run time (``install_rules``): already at the time scale they were made for."""
    return config.paths.installed_rules


def _load_yaml(path: Path) -> dict:
    try:
        return read_yaml(path)
    except FileNotFoundError:
        raise SandboxNotReady(f"sandbox configuration {path} is missing; set KIT_SANDBOX_DIR to the repo's sandbox/") from None


def rule_count(rendered: Path) -> int:
    """The rules in the rendered rule files; a file removed while they are counted (a render going on) counts
    none."""
    count = 0
    for path in sorted((rendered / RULES_FOLDER).glob("*.yml")):
        try:
            doc = read_yaml(path)
        except FileNotFoundError:
            continue
        count += sum(len(group.get("rules", [])) for group in doc.get("groups", []))
    return count


def expected_rules(config: Config) -> int:
    return rule_count(config.paths.rendered) if config.paths.rendered_rules.exists() else 0
