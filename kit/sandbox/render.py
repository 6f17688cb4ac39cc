"""The sandbox's configuration: prometheus.yml, alertmanager.yml and rules/ rendered from ``sandbox/``.

Rendering fills in the profile's intervals and the configured ports, scales the rules' windows to the
profile's time scale, and adds the rule files installed at run time (``kit.sandbox.install_rules``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from ..config import ALERTMANAGER_CONFIG, PROMETHEUS_CONFIG, RULES_FOLDER, Config
from ..errors import SandboxNotReady
from ..promfiles import read_yaml, write_yaml
from ..timescale import scale_rule_groups
from .processes import HOST_PORTS


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

    rules_out = out / RULES_FOLDER
    if rules_out.exists():
        shutil.rmtree(rules_out)
    rules_out.mkdir()
    for rule_file in sorted((source / RULES_FOLDER).glob("*.yml")):
        doc = scale_rule_groups(_load_yaml(rule_file), profile.time_scale)
        write_yaml(rules_out / rule_file.name, doc)
    loaded: set[bytes] = set()
    for rule_file in sorted(installed_rules(config).glob("*.yml")):
        content = rule_file.read_bytes()
        if content in loaded:
            continue  # the same rules installed twice (by a learner and by a drill) are evaluated once
        loaded.add(content)
        shutil.copyfile(rule_file, rules_out / f"installed-{rule_file.name}")
    return out


def installed_rules(config: Config) -> Path:
    """Rule files installed at run time (``install_rules``): already at the time scale they were made for."""
    return config.paths.installed_rules


def _load_yaml(path: Path) -> dict:
    try:
        return read_yaml(path)
    except FileNotFoundError:
        raise SandboxNotReady(f"sandbox configuration {path} is missing; set KIT_SANDBOX_DIR to the repo's sandbox/") from None


def rule_count(rendered: Path) -> int:
    return sum(len(g.get("rules", [])) for f in sorted((rendered / RULES_FOLDER).glob("*.yml"))
               for g in _load_yaml(f).get("groups", []))


def expected_rules(config: Config) -> int:
    return rule_count(config.paths.rendered) if config.paths.rendered_rules.exists() else 0
