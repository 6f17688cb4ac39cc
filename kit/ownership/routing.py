"""Pages go to the team that owns the service: Alertmanager's routing tree generated from the service catalog.

Every Group that owns a Component with a Prometheus job (``catalog.ANNOTATION_JOB``) gets one child route matching
those jobs and a receiver named exactly as the Group's ``metadata.name`` (``shop-team``). That name is what
Alertmanager puts in the webhook payload's ``receiver`` field (version 4 of the payload,
https://prometheus.io/docs/alerting/latest/configuration/#webhook_config), so the pager knows the team from it,
and what ``amtool config routes test job=shop`` answers. A team's receiver delivers where the root receiver does
(the pager). Alerts no component claims match no child route and reach the root receiver.

The routes live in ``sandbox/alertmanager.yml``, the file `kit up` and docker-compose both render from: its root
route and root receiver are written by hand; its child routes and every other receiver are generated here
(`kit catalog routes --write`), and ``drift`` says when the file no longer follows the catalog. They are generated
into the file, not at `kit up`, because the sandbox must not depend on this package (checks here read SLOs, drills
and runbooks, which drive the sandbox), and because a routing change is then a diff a reviewer sees.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomicfile import write_atomically
from ..config import ALERTMANAGER_CONFIG, Config, resolve
from ..errors import InvalidInput
from ..promfiles import read_yaml, to_yaml
from . import catalog as catalogs
from .catalog import ANNOTATION_JOB, Catalog, Finding

__all__ = ["TeamRoute", "apply", "drift", "stale", "team_routes", "write"]

_RE2_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$]")


@dataclass(frozen=True)
class TeamRoute:
    """Where one team's pages go: the ``team`` (its Group's name, also its receiver's), the Prometheus ``jobs`` of
    the components it owns and those ``components``, both sorted."""

    team: str
    jobs: tuple[str, ...]
    components: tuple[str, ...]

    @property
    def matchers(self) -> tuple[str, ...]:
        """Alertmanager's matchers for this team's pages, one route each: ``job=~"payments|shop"`` for alerts on the
        series of its components' jobs, ``service=~"payments|shop"`` for the burn-rate alerts of SLOs on its
        components, which carry the SLO's service (``kit.slo.rules``) and no job. A regex matcher is anchored, and
        none is made of no values (``job=~""`` would match every alert without a job)."""
        return tuple(_matcher(label, values) for label, values in (("job", self.jobs), ("service", self.components))
                     if values)

    def as_routes(self) -> list[dict[str, Any]]:
        return [{"receiver": self.team, "matchers": [matcher]} for matcher in self.matchers]


def _matcher(label: str, values: Sequence[str]) -> str:
    pattern = "|".join(_RE2_SPECIAL.sub(lambda m: "\\" + m.group(), value) for value in values)
    return f'{label}=~"' + pattern.replace("\\", "\\\\").replace('"', '\\"') + '"'


def team_routes(catalog: Catalog) -> list[TeamRoute]:
    """One route per Group that owns at least one component with a Prometheus job, sorted by team.

    Left out, so their pages reach the root receiver: a component without the job annotation, and one whose
    owner is not a Group the catalog holds (``catalog.completeness`` and ``catalog.dangling_refs`` report both); a
    team that owns no such component gets no route. Pure. Raises InvalidInput naming the component when its job
    is already claimed by a component of another team (Alertmanager would page only the first), and naming the
    Group when two Groups share a name in different namespaces (their receivers would share a name).
    """
    groups: dict[str, str] = {}
    for group in catalog.groups:
        if groups.setdefault(group.name, str(group.ref)) != str(group.ref):
            raise InvalidInput("metadata.name", f"{groups[group.name]} has the same name; receivers are named "
                                                "after teams, so give one of them another name",
                               source=f"{group.source}: Group {group.name}")
    owner_of: dict[str, tuple[str, str]] = {}
    owned: dict[str, tuple[set[str], set[str]]] = {}
    for component in catalog.components:
        job, group = component.prometheus_job, catalog.get(component.owner)
        if job is None or group is None or group.ref.kind != "Group":
            continue
        team, claimed = group.name, owner_of.setdefault(job, (group.name, component.name))
        if claimed[0] != team:
            raise InvalidInput(f"metadata.annotations.{ANNOTATION_JOB}",
                               f"job {job} is also the job of {claimed[1]}, owned by {claimed[0]}: Alertmanager "
                               "can page only one team for it; give each component its own job",
                               source=f"{component.source}: Component {component.name}")
        jobs, components = owned.setdefault(team, (set(), set()))
        jobs.add(job)
        components.add(component.name)
    return [TeamRoute(team, tuple(sorted(jobs)), tuple(sorted(components)))
            for team, (jobs, components) in sorted(owned.items())]


def apply(alertmanager: dict[str, Any], routes: Sequence[TeamRoute]) -> dict[str, Any]:
    """A copy of ``alertmanager`` (a parsed alertmanager.yml) whose child routes are one per team of ``routes`` and
    whose receivers are the root receiver, then one per team delivering as the root receiver does (a copy of its
    notifier configs, renamed). Child routes inherit the root's grouping and timers. Pure.

    Raises InvalidInput when the file has no root receiver among its receivers, or a team is named like the root
    receiver (its pages would read as nobody's).
    """
    root = alertmanager.get("route", {}).get("receiver")
    default = next((r for r in alertmanager.get("receivers", []) if r.get("name") == root), None)
    if default is None:
        raise InvalidInput("route.receiver", f"{root!r} is not one of the receivers: name the receiver of alerts no "
                                             "team owns there")
    for route in routes:
        if route.team == root:
            raise InvalidInput("metadata.name", f"group {route.team} is named like the receiver of alerts no team "
                                                "owns: rename the group")
    result = copy.deepcopy(alertmanager)
    result["route"]["routes"] = [r for route in routes for r in route.as_routes()]
    result["receivers"] = [copy.deepcopy(default)] + [{**copy.deepcopy(default), "name": route.team} for route in routes]
    return result


def drift(alertmanager: dict[str, Any], catalog: Catalog, source: str = "sandbox/alertmanager.yml") -> list[Finding]:
    """Where ``alertmanager`` (parsed from ``source``) does not route as ``catalog`` says: a finding per team whose
    route is missing, extra or matches other jobs, and one when only the receivers differ; [] when in step.
    Raises InvalidInput as ``team_routes`` and ``apply`` do."""
    wanted = apply(alertmanager, team_routes(catalog))
    if wanted == alertmanager:
        return []
    fix = "run `kit catalog routes --write`, then `kit up` to load it"
    have, want = _matchers_by_team(alertmanager), _matchers_by_team(wanted)
    found = []
    for team in sorted(have.keys() | want.keys(), key=str):
        if team not in have:
            problem = f"has no route for {team}, which owns {', '.join(want[team])}"
        elif team not in want:
            problem = f"routes {', '.join(have[team])} to {team}, which the catalog gives no job"
        elif have[team] != want[team]:
            problem = f"routes {', '.join(have[team])} to {team}; the catalog says {', '.join(want[team])}"
        else:
            continue
        found.append(Finding(source, f"receiver {team}", "route.routes", problem, fix))
    if not found:
        found.append(Finding(source, "", "receivers", "the receivers differ from the root receiver and one per team",
                             fix))
    return found


def _matchers_by_team(alertmanager: dict[str, Any]) -> dict[str, list[str]]:
    """The matchers of the child routes, by receiver, in order."""
    teams: dict[str, list[str]] = {}
    for route in alertmanager.get("route", {}).get("routes", []):
        teams.setdefault(route.get("receiver"), []).extend(route.get("matchers", []))
    return teams


def write(path: Path, catalog: Catalog) -> bool:
    """Regenerate the routes of the alertmanager.yml at ``path`` from ``catalog``; True when the file changed.

    The comment lines at the top of the file are kept; below them the file is rewritten as YAML. Raises
    InvalidInput as ``team_routes`` and ``apply`` do.
    """
    text = path.read_text(encoding="utf-8")
    current = read_yaml(path)
    if not drift(current, catalog, str(path)):
        return False
    write_atomically(path, "".join(_leading_comments(text)) + to_yaml(apply(current, team_routes(catalog))))
    return True


def stale(config: Config | None = None, catalog: Catalog | None = None) -> list[Finding]:
    """``drift`` of the alertmanager.yml `kit up` renders (the one in ``config.sandbox_dir``) from ``catalog`` (the
    repository's by default): [] when the routes follow it. `kit up` warns with these, since a route left behind
    after an owner changed pages the wrong team. Raises InvalidInput for a catalog or file that does not load."""
    path = Path(resolve(config).sandbox_dir) / ALERTMANAGER_CONFIG
    return drift(read_yaml(path), catalog if catalog is not None else catalogs.load(), str(path))


def _leading_comments(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    count = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    return lines[:count]
