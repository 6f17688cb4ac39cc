"""Rule files added to the running sandbox at run time (SLO alerts, a drill's rules) and removed again."""

from __future__ import annotations

import re

from ..config import Config, Profile
from ..errors import InvalidInput
from ..promfiles import check_rules, write_yaml
from ..timescale import MIN_SCRAPES_PER_WINDOW, format_duration, parse_duration, range_windows
from .control import quiet, reload, wait_healthy
from .record import SandboxRecord, locked, record_path
from .render import installed_rules, render
from .status import SandboxStatus, current_config, pids, require, status

_RULE_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def install_rules(name: str, doc: dict, *, config: Config | None = None, timeout: float = 30.0) -> SandboxStatus:
    """Add or replace the rule file ``name`` in the running sandbox and wait until Prometheus has loaded it.

    The rules are checked with ``promtool check rules`` first; rules it rejects
    raise InvalidInput with promtool's message and change nothing.
    """
    config = current_config(config)
    if not _RULE_FILE_NAME.match(name):
        raise InvalidInput("name", f"{name!r}: use 1-64 letters, digits, '-' or '_'")
    require(config)
    target = installed_rules(config) / f"{name}.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    check = check_rules(doc)
    if not check.passed:
        raise InvalidInput("rules", check.output)
    _check_windows(doc, config.profile_spec)
    write_yaml(target, doc)
    return _rerender(config, timeout)


def _check_windows(doc: dict, profile: Profile) -> None:
    """InvalidInput when a rule's range window is too short for the profile's scrapes to fill: such a rule reads
    nothing, and an alert on it can never fire."""
    scrape = parse_duration(profile.scrape_interval)
    for group in doc.get("groups", []):
        for rule in group.get("rules", []):
            for window in range_windows(str(rule.get("expr", ""))):
                if window < MIN_SCRAPES_PER_WINDOW * scrape:
                    name = rule.get("alert") or rule.get("record")
                    raise InvalidInput("rules", (
                        f"{name}: its {format_duration(window)} window holds fewer than {MIN_SCRAPES_PER_WINDOW} "
                        f"scrapes at the {profile.name} profile's {profile.scrape_interval} scrape interval, so "
                        f"rate() over it has too few samples and whatever reads it cannot fire reliably; use windows "
                        f"of at least {format_duration(MIN_SCRAPES_PER_WINDOW * scrape)}, or a smaller time scale"))


def remove_rules(name: str, *, config: Config | None = None, timeout: float = 30.0) -> SandboxStatus:
    """Remove a rule file added with ``install_rules``; a no-op when it is not installed.

    With the sandbox down it only removes the file (the next ``up`` renders without
    it) and waits for nothing.
    """
    config = current_config(config)
    (installed_rules(config) / f"{name}.yml").unlink(missing_ok=True)
    if not pids(config):
        return status(config)
    return _rerender(config, timeout)


def _rerender(config: Config, timeout: float) -> SandboxStatus:
    with locked(config):
        render(config, config.paths.rendered)
        reload(config)
        return wait_healthy(config, SandboxRecord.load(record_path(config)), timeout, quiet)
