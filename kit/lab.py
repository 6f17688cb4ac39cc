"""The first cell of every lab: ``kit.lab_setup("NN-topic")`` checks the kernel, brings up the sandbox, puts it
where the lab starts and shows a summary a mob can read off a projector.

What an exercise changes in the sandbox is undone where it is made, by a with block
(``kit.injected_fault``, ``kit.slo.rules_installed``, ``kit.drills.drill``). A with block
cannot outlive its cell, though: rules that serve several cells (lab 04), a drill that runs
through a whole lab (lab 06), a kernel killed halfway through a block all leave state behind.
So the setup of every lab undoes whatever any lab may have left: a running drill, the labs'
exercise rules, faults, and flags away from their defaults. The grader replays a notebook from
this same first cell, so every submission starts from the same sandbox.
"""

from __future__ import annotations

import html
import importlib.metadata
import importlib.util
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import binaries, drills, polling, prom, sandbox, slo
from .config import CONTENT, Config
from .errors import BinaryMissing, CheckFailed, InvalidInput, KitError, NothingMeasured
from .history import BackfillResult, backfill
from .ownership import workspace
from .ownership.scorecard import CALLS_WINDOW
from .sandbox import SandboxStatus
from .releases import canary, deployhistory, deploylog, flags, gate
from .shop import faults

__all__ = ["LABS", "Lab", "LabSetup", "lab_setup", "reset"]

MIN_PYTHON = (3, 10)
"""The oldest Python the kit runs on: ``requires-python`` in pyproject.toml."""

DISTRIBUTION = "reliability-dojo"
"""The kit's name as pip installs it (pyproject.toml), whose version should be the one the kernel imports."""

TRAFFIC = 'count_over_time(http_requests_total{job="shop", route="/catalog", code="200"}[1m]) >= 6'
"""A few seconds of the sandbox's own traffic: the labs' first queries average rates over a minute."""


@dataclass(frozen=True)
class Lab:
    """What one lab needs beyond a running sandbox."""

    name: str
    history_days: float = 0
    """Days of backfilled metric history the lab reads (0: none)."""
    history_step: str = "1m"
    """The step of that history. A lab that reads only long windows asks for a coarser one, which backfills in a
    fraction of the time; a finer history already loaded (another lab's) serves it as well."""
    rules: tuple[str, ...] = ()
    """The names of the rule files the lab installs into the sandbox; the setup of any lab removes them."""
    programs: tuple[str, ...] = ()
    """Python packages the lab runs as programs in a child process (never imported into the kernel)."""
    pages: tuple[str, ...] = ()
    """Alerts the lab waits to see page. Alertmanager pages once per incident: while an earlier run's alert of
    that name still fires, no new page comes, so the setup first waits for it to resolve."""
    slos: tuple[str, ...] = ()
    """SLOs of slos/ whose recording and burn-rate rules the lab needs installed (each as the rule file
    ``lab-slo-<name>``), so that the error-budget gate can read them; the setup of any lab removes them."""
    releases: bool = False
    """The lab releases canaries from its first cells: its setup waits until the traffic the release runner reads
    as its baseline (``kit.releases.runner.live_window_s``) no longer holds an earlier run's injected errors,
    which would make the runner's power check refuse the plan ("too short to see anything")."""
    deploy_history_days: float = 0
    """Days of generated deploy history (kit.releases.deployhistory) the setup writes to a deploy log that holds
    no event yet, so the DORA keys have weeks to work on (0: none)."""

    @property
    def rule_files(self) -> tuple[str, ...]:
        """Every rule file the lab installs: its ``rules`` and one per SLO of ``slos``."""
        return (*self.rules, *(f"lab-slo-{name}" for name in self.slos))
    ownership: bool = False
    """The lab works in a folder of its own copies of the catalog, rotation and SLO content
    (kit.ownership.workspace), which its setup puts back in the state the lab starts from."""


LABS: dict[str, Lab] = {lab.name: lab for lab in (
    Lab("00-mob-and-sandbox", pages=("CheckoutErrorRatioHigh",)),
    Lab("01-instrumentation"),
    Lab("02-slis-slos-and-budgets", history_days=30),
    Lab("03-alerting-on-slos", rules=("slo-lab03",)),
    Lab("04-runbooks", rules=("lab04-runbooks",), pages=("CheckoutErrorRatioHigh",)),
    Lab("05-load-and-capacity", programs=("locust",)),
    Lab("06-incident-drill"),
    # The error-budget gate reads the history in 43-minute steps (kit.releases.gate), so 5-minute samples are plenty.
    Lab("07-safe-releases", history_days=30, history_step="5m", slos=("shop-availability", "catalog-latency"),
        deploy_history_days=90, releases=True),
    Lab("08-service-ownership", ownership=True,
        rules=("lab08-checkout-availability", "lab08-shop-availability", "lab08-catalog-latency")),
)}
"""Every lab this kit can set up, by the name of its folder in labs/."""


@dataclass(frozen=True)
class LabSetup:
    """What ``lab_setup`` found and did: printed as a table, or shown as one in a notebook."""

    lab: str
    python: str
    kit: str
    tools: dict[str, str]
    """The version of Prometheus, Alertmanager, promtool and amtool, by name."""
    sandbox: SandboxStatus
    undone: tuple[str, ...]
    """What an earlier run left in the sandbox and the setup undid, one sentence each; empty when nothing."""
    history: BackfillResult | None = None
    """The backfilled history, for a lab that reads one."""
    warnings: tuple[str, ...] = ()
    deploy_history: deployhistory.BackfillResult | None = None
    """The deploy history the setup backfilled this time (None: none needed, or the deploy log had events)."""
    folder: Path | None = None
    """The lab's own folder of content (kit.ownership.workspace), freshly prepared; None for other labs."""

    @property
    def headline(self) -> str:
        profile = f" (profile {self.sandbox.profile})" if self.sandbox.profile else ""
        return f"lab {self.lab}: sandbox {self.sandbox.verdict}{profile}"

    def rows(self) -> list[tuple[str, str]]:
        """(label, text) for each line of the summary below its headline."""
        rows = [("python", self.python), ("kit", self.kit),
                ("tools", ", ".join(f"{name} {version}" for name, version in self.tools.items())),
                ("rules", f"{self.sandbox.rules_loaded} loaded in Prometheus")]
        if self.history is not None:
            h = self.history
            rows.append(("history", f"{h.start:%Y-%m-%d %H:%M} to {h.end:%Y-%m-%d %H:%M} UTC, "
                                    f"{len(h.incidents)} incidents"))
        if self.deploy_history is not None:
            d = self.deploy_history.history
            rows.append(("deploys", f"{len(d.events)} deploy log events and {len(d.incidents)} incidents backfilled "
                                    f"over {(d.end - d.start) / 86400:.0f} days"))
        if self.folder is not None:
            rows.append(("folder", f"{self.folder} (your catalog, rotation, policy and review: prepared afresh)"))
        rows += [("undone", line) for line in self.undone] or [("undone", "nothing: no earlier run left anything")]
        rows += [("warning", line) for line in self.warnings]
        return rows

    def __str__(self) -> str:
        lines = [self.headline, *(f"  {label:<8} {text}" for label, text in self.rows())]
        lines += [f"  {'open':<8} {name}: {url}" for name, url in self.sandbox.urls.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<{self.headline}>"

    def _repr_html_(self) -> str:
        cell = "style='text-align:left'"
        rows = "".join(f"<tr><th {cell}>{html.escape(label)}</th><td {cell}>{html.escape(text)}</td></tr>"
                       for label, text in self.rows())
        links = " · ".join(f"<a href='{html.escape(url)}' target='_blank' rel='noopener'>{html.escape(name)}</a>"
                           for name, url in self.sandbox.urls.items())
        if links:
            rows += f"<tr><th {cell}>open</th><td {cell}>{links}</td></tr>"
        return f"<p><b>{html.escape(self.headline)}</b></p><table>{rows}</table>"


def lab_setup(lab: str, *, config: Config | None = None, progress: Callable[[str], None] = print) -> LabSetup:
    """Make the kernel and the sandbox ready for ``lab`` (``"03-alerting-on-slos"``) and return what was done.

    In order: the lab is one this kit knows; Python is new enough; Prometheus, Alertmanager,
    promtool and amtool are installed and new enough, and so are the programs the lab runs
    (locust); the sandbox is up, started or repaired as ``kit.up()`` does; a deploy history is
    written to an empty deploy log for a lab that computes DORA keys (before the reset, whose own
    changes are logged after it); what an earlier run left is undone (see the module's docstring);
    history is backfilled for a lab that reads it; the shop has served a few seconds of traffic; an
    earlier run's page the lab waits for again has resolved; the burn-rate rules of the lab's SLOs
    are installed and evaluated, so the error-budget gate can read them; for a lab that releases,
    an earlier run's errors have left the traffic its releases read as their baseline. Running it again changes
    nothing that is already right. ``progress`` gets a line for each step that takes a while.

    Raises InvalidInput (field ``lab``) for a lab this kit does not know, KitError for a Python
    too old, BinaryMissing with the command that installs what is missing, and what ``kit.up()``
    raises (PortBusy, ProcessFailed with the end of the process's log): each says what to run.
    """
    version = _kit_version()
    needs = LABS.get(lab)
    if needs is None:
        raise InvalidInput("lab", f"{lab!r} is not one of the labs this kit ({version}) knows: "
                                  f"{', '.join(LABS)}. A newer lab needs a newer kit: `git pull`, then "
                                  "`pip install -e .` in the repository, then restart the kernel.")
    problem = _python_problem(tuple(sys.version_info[:3]))
    if problem is not None:
        raise KitError(problem)
    tools = {name: found.version for name, found in binaries.find_all().items()}
    absent = [name for name in needs.programs if importlib.util.find_spec(name) is None]
    if absent:
        raise BinaryMissing(f"lab {lab} runs {', '.join(absent)}, which this kernel's Python lacks: "
                            "`pip install -e .` in the repository installs it; then restart the kernel.")
    config = config or Config.from_env()
    sandbox.up(config=config, progress=progress)
    deploys = None
    if needs.deploy_history_days and not deploylog.read(config=config):
        progress(f"backfilling {needs.deploy_history_days:g} days of deploy history into the empty deploy log")
        deploys = deployhistory.backfill(needs.deploy_history_days, config=config)
    undone = reset(config)
    history = None
    if needs.history_days:
        # before the wait for traffic: in a fresh sandbox, the seconds of traffic it asks for pass while promtool works
        progress(f"backfilling {needs.history_days:g} days of history (only the first time takes a while)")
        history = backfill(needs.history_days, step=needs.history_step, config=config, progress=progress)
    try:
        prom.wait_for(TRAFFIC, timeout=30, config=config)
    except CheckFailed:
        raise CheckFailed("the shop has served next to no traffic for 30 s, and the labs' queries need some: is the "
                          f"background traffic off (KIT_TRAFFIC_RPS={config.traffic_rps:g})? `kit status` and "
                          "`kit logs traffic` tell") from None
    if needs.pages:
        _wait_for_resolution(needs.pages, config, progress)
    folder = None
    if needs.ownership:
        folder = workspace.prepare(config).root
        _wait_for_calls(config)
    if needs.slos:
        _install_slos(needs, config)
    if needs.releases:
        _wait_for_a_clean_baseline(config, progress)
    return LabSetup(lab, platform.python_version(), version, tools, sandbox.status(config), undone, history,
                    _kit_warnings(version), deploy_history=deploys, folder=folder)


SLO_RULES_TIMEOUT = 30.0
"""Seconds to wait for Prometheus to evaluate an SLO's rules once they are installed (or after the restart that
opens a backfilled history): a few evaluation intervals."""


def _install_slos(lab: Lab, config: Config) -> None:
    """Install the burn-rate rules of ``lab.slos`` and wait until the error-budget gate can read them all."""
    specs = [slo.load_spec(CONTENT.slos / f"{name}.yml") for name in lab.slos]
    for spec in specs:
        slo.install(spec, name=f"lab-slo-{spec.name}", config=config)
    missing: list[str] = []

    def readable() -> bool:
        missing.clear()
        for spec in specs:
            try:
                gate.burn_alerts(spec, config=config)
            except NothingMeasured as error:
                missing.append(str(error))
        return not missing

    polling.wait_for(readable, SLO_RULES_TIMEOUT, 0.25,
                     describe=lambda: f"the burn-rate rules of lab {lab.name} were not evaluated: {missing[0]}")


CLEAN_BASELINE = 0.001
"""The stable shop's error ratio (0.1 %) below which its recent traffic is a fair baseline: the healthy shop
serves no errors, and a burn left by an earlier run serves several percent."""


def _wait_for_a_clean_baseline(config: Config, progress: Callable[[str], None]) -> None:
    """Until the stable shop's error ratio over the release runner's live window is below ``CLEAN_BASELINE``:
    an earlier run's last cells may have burned the budget moments ago (lab 07 does), and the errors stay in the
    window for its length after the faults are cleared. Gives up after that length and a little more: a shop
    that keeps failing is what the runner's own message then describes."""
    from .releases import query, runner

    window = runner.live_window_s(config)

    def clean() -> bool:
        ratio = query.live_traffic(window, config=config).baseline_error_ratio
        return ratio <= CLEAN_BASELINE  # NaN (no stable traffic yet) is not clean

    if not clean():
        progress(f"waiting up to {window + 10:.0f} s for an earlier run's errors to leave the last {window:.0f} s of "
                 "traffic, which the releases read as their baseline")
        polling.wait_until(clean, window + 10, 1.0)


CALLS = f'sum(increase(payments_client_requests_total{{job="shop"}}[{CALLS_WINDOW}])) > 0'
"""The shop's calls to payments over the window the scorecard's dependency check reads them in."""


def _wait_for_calls(config: Config) -> None:
    """A sandbox started a moment ago has not seen the shop call payments yet: the dependency checks of the
    catalog and the scorecard would find a declared dependency without a call."""
    try:
        prom.wait_for(CALLS, timeout=30, config=config)
    except CheckFailed:
        raise CheckFailed("the shop has not called payments for 30 s, and the lab's dependency checks need those "
                          "calls: `kit status` says whether payments and the background traffic run") from None


RESOLUTION_TIMEOUT = 180.0
"""Seconds to wait for an earlier incident's page to resolve: a minute's error ratio needs about a minute of
good traffic to fall under its threshold again, twice that and more on a busy machine."""


def _wait_for_resolution(alerts: tuple[str, ...], config: Config, progress: Callable[[str], None]) -> None:
    held = prom.alerts(config=config)
    still = sorted(set(held["alertname"]) & set(alerts))
    if not still:
        return
    progress(f"waiting for {', '.join(still)} of an earlier run to resolve, so that this "
             "lab's page is a new one (about a minute)")
    prom.wait_for_no_alerts(names=alerts, timeout=RESOLUTION_TIMEOUT, config=config)


def _python_problem(version: tuple[int, ...]) -> str | None:
    """Why a kernel running Python ``version`` cannot run the labs, or None when it can."""
    if version >= MIN_PYTHON:
        return None
    shown, needed = ".".join(map(str, version)), ".".join(map(str, MIN_PYTHON))
    return (f"this kernel runs Python {shown}; the kit needs {needed} or newer. Pick a newer kernel "
            "(Kernel → Change Kernel), or create the environment again from environment.yml.")


def _kit_version() -> str:
    """``kit.__version__``, read from the package already imported: importing the package itself would make this
    module depend, for import-linter, on everything the package can reach (the CLI)."""
    return sys.modules[__package__].__version__


def _kit_warnings(version: str) -> tuple[str, ...]:
    """A kit imported from a checkout newer than the one pip installed may need dependencies pip has not got."""
    try:
        installed = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return ()
    if installed == version:
        return ()
    return (f"the kernel imports kit {version}, but this environment installed {installed}: "
            "`pip install -e .` in the repository brings its dependencies up to date",)


def reset(config: Config | None = None) -> tuple[str, ...]:
    """Put the running sandbox back where every lab starts; returns what was undone, a sentence each.

    A running drill is given up, every lab's exercise rules are removed, a canary is rolled back and the stable
    shop goes back to 1.0.0, faults are cleared and feature flags go back to their defaults. ``lab_setup`` runs it; so does whoever hands a sandbox on after a lab ran in
    it (the test suite after grading a cohort in its own sandbox). SandboxNotReady when the sandbox is down.
    """
    config = sandbox.current_config(config)
    undone = []
    if drills.running(config):
        ended = drills.end(abandon=True, config=config)
        undone.append(f"gave up drill {ended.run}, still running from before")
    for lab in LABS.values():
        for name in lab.rule_files:
            # install_rules keeps each rule file as <installed_rules>/<name>.yml
            if (config.paths.installed_rules / f"{name}.yml").is_file():
                sandbox.remove_rules(name, config=config)
                undone.append(f"removed the rules {name} of lab {lab.name}")
    undone += canary.restore(config)
    active = [f"{service} {kind}" for service, kinds in faults.list_faults(config, reveal=True).items()
              for kind in kinds]
    if active:
        faults.clear_faults(config=config)
        undone.append(f"cleared the faults: {', '.join(active)}")
    undone += [f"turned the flag {change.name} {change.after.text} again, its default"
               for change in flags.reset_flags(actor="kit lab reset", config=config)]
    return tuple(undone)
