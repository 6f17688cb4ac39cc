"""What talks to the running sandbox: its Prometheus checks an SLO's queries, and its rule folder takes the
SLO's rules."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from ..errors import InvalidInput, PromQLError
from ..promfiles import read_yaml
from .rules import generate_rules
from .sli import bucket_selector, query_rate, sli_error_expr, sli_total_expr
from .spec import LatencySLI, SLOSpec

if TYPE_CHECKING:
    from ..config import Config
    from ..sandbox import SandboxStatus

__all__ = ["validate_queries", "install", "rules_installed"]


def validate_queries(spec: SLOSpec, config: Config | None = None) -> list[str]:
    """Ask a running Prometheus to evaluate every query of the SLI and the error ratio composed from them.

    Prometheus's rejection of a query raises InvalidInput naming the field as
    the spec spells it. Returns warnings (one line each) about what parses but
    cannot work: an SLI with no data never pages (a misspelled label, a bucket
    bound the service does not expose), and an error ratio outside 0–1 means
    the queries do not count the same events.
    """
    from .. import prom  # needs httpx and a Prometheus; keep importing this module light

    sli = spec.sli
    if isinstance(sli, LatencySLI):
        parts = {spec.field("total"): sli_total_expr(spec, "5m"),
                 spec.field("threshold"): f"sum(rate({bucket_selector(sli)}[5m]))"}
    else:
        parts = {spec.field(role): query_rate(getattr(sli, role), "5m") for role in ("total", "good", "bad")
                 if getattr(sli, role)}
    values = {}
    for field, expr in [*parts.items(), ("sli", sli_error_expr(spec, "5m"))]:
        try:
            frame = prom.query(expr, config=config)
        except PromQLError as exc:
            raise InvalidInput(field, str(exc), source=spec.source) from None
        values[field] = [float(v) for v in frame["value"]] if len(frame) else []
    warnings = []
    total_field = spec.field("total")
    if not values[total_field]:
        warnings.append(f"{total_field}: no data in Prometheus: until it has some, the SLO measures nothing and "
                        "cannot page; check the metric and label names with `kit query`, or wait for traffic")
    elif isinstance(sli, LatencySLI) and not values[spec.field("threshold")]:
        warnings.append(f"{spec.field('threshold')}: the histogram has data but no bucket with le={sli.threshold:g}: "
                        "the SLO will never page; choose a bound the service exposes")
    outside = [v for v in values["sli"] if not -1e-9 <= v <= 1 + 1e-9]
    if outside:
        warnings.append(f"sli: the error ratio over 5m is {outside[0]:.4g}, outside 0 to 1: the queries do not "
                        "count the same events (is a bad or good query larger than the total?)")
    return warnings


def install(spec: SLOSpec, *, time_scale: float | None = None, name: str | None = None,
            config: Config | None = None) -> SandboxStatus:
    """Install the SLO's rules into the running sandbox at its profile's time scale (unless ``time_scale`` is
    given) and return the sandbox status. ``name`` is the rule file, ``slo-<name>`` by default; each installer
    uses its own (a drill ``drill-slo-<name>``), so removing one never removes another's rules."""
    from .. import sandbox

    config = sandbox.current_config(config)
    profile = config.profile_spec
    rules = generate_rules(spec, time_scale=profile.time_scale if time_scale is None else time_scale,
                           profile=profile)
    return sandbox.install_rules(name or f"slo-{spec.name}", rules, config=config)


@contextmanager
def rules_installed(spec: SLOSpec, *, time_scale: float | None = None, name: str | None = None,
                    config: Config | None = None) -> Iterator[SandboxStatus]:
    """``install`` for the length of a with block, which yields the sandbox status once Prometheus has loaded them.

    Leaving the block, normally or by an error (a page that never came), puts the rule file ``name`` back as it
    was: removed, or holding what it held before (a `kit slo apply` of the same SLO keeps its rules), so alerts
    installed for an exercise never outlive it. Raises what ``install`` raises.
    """
    from .. import sandbox

    config = sandbox.current_config(config)
    name = name or f"slo-{spec.name}"
    # install_rules keeps each file as <installed_rules>/<name>.yml, already at its time scale
    earlier = config.paths.installed_rules / f"{name}.yml"
    before = read_yaml(earlier) if earlier.is_file() else None
    try:
        yield install(spec, time_scale=time_scale, name=name, config=config)
    finally:
        if before is None:
            sandbox.remove_rules(name, config=config)
        else:
            sandbox.install_rules(name, before, config=config)
