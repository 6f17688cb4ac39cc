"""Ports, paths and profiles, each declared once with its help text, KIT_* override and limits.

This module owns where things are: every file and folder of a state folder (``StatePaths``, reached as
``Config.paths``), the repository's content folders (``CONTENT``), and which sandbox a caller without a
config talks to (``resolve``). Other modules ask here instead of joining path names themselves, so a
file is named once and two modules can never disagree about where it lives or which sandbox is meant.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .errors import InvalidInput

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ContentPaths:
    """The content folders of a repository checkout (the kit's own, or another ``root`` given to a linter/grader)."""

    root: Path

    def shown(self, path: str | Path) -> str:
        """``path`` relative to ``root`` when it lies inside it, as a person finds it there; else as given."""
        resolved = Path(path).resolve()
        return str(resolved.relative_to(self.root)) if resolved.is_relative_to(self.root) else str(path)

    @property
    def drills(self) -> Path:
        """drills/: one YAML scenario per drill, read by kit.drills.scenarios."""
        return self.root / "drills"

    @property
    def slos(self) -> Path:
        """slos/: the SLO specs (<name>.yml) that kit.slo loads, drills install and runbooks are linted against."""
        return self.root / "slos"

    @property
    def runbooks(self) -> Path:
        """runbooks/: the Markdown runbooks the alerts link to, linted by kit.runbooks."""
        return self.root / "runbooks"

    @property
    def sandbox(self) -> Path:
        """sandbox/: Prometheus/Alertmanager config and rules/, rendered by kit.sandbox (default of KIT_SANDBOX_DIR)."""
        return self.root / "sandbox"

    @property
    def solutions(self) -> Path:
        """solutions/: each lab's source notebook with its answers (solutions/<lab>/<lab>.ipynb), kept by authors."""
        return self.root / "solutions"

    @property
    def labs(self) -> Path:
        """labs/: the released labs, generated from solutions/ by kit.grading and copied by kit.grading.workcopy."""
        return self.root / "labs"

    @property
    def releases(self) -> Path:
        """releases/: the release plans (<name>.yml) that `kit release run` walks (kit.releases.plan)."""
        return self.root / "releases"

    @property
    def catalog(self) -> Path:
        """catalog/: the service catalog, Backstage entity descriptors (<name>.yaml) read by kit.ownership.catalog."""
        return self.root / "catalog"

    @property
    def readiness(self) -> Path:
        """readiness/: the readiness review template, the release classes and filled reviews (kit.ownership.review)."""
        return self.root / "readiness"

    @property
    def oncall(self) -> Path:
        """oncall/: each team's on-call rotation (<team>.ics, iCalendar), checked by kit.ownership.oncall."""
        return self.root / "oncall"

    @property
    def community(self) -> Path:
        """community/: the community of practice's records (members, teams, sessions, ...), kit.community.records."""
        return self.root / "community"

    @property
    def guide(self) -> Path:
        """guide/: the facilitator's guide in Markdown and its session plans (plans/<lab>.yml, kit.community.sessionplan)."""
        return self.root / "guide"


CONTENT = ContentPaths(REPO_ROOT)

PROMETHEUS_CONFIG = "prometheus.yml"
ALERTMANAGER_CONFIG = "alertmanager.yml"
RULES_FOLDER = "rules"
PROXY_CONFIG = "haproxy.cfg"
SHOP_TARGETS = "shop-targets.json"
FLAGS_FILE = "flags.flagd.json"
"""The layout of ``sandbox/`` and of every folder rendered from it (``StatePaths.rendered``, ``kit render --out``)."""
"""The kit's own content folders."""

LOOPBACK = ("127.0.0.1", "localhost", "::1")
"""Addresses every sandbox listener may bind without the explicit remote flag."""


def _default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(base) / "reliability-dojo")


def _setting(default, help: str, env: str, **limits):
    """A setting: its default, help text, KIT_* variable and the limits of its value (pydantic Field
    constraints such as ``ge``, or ``choices``), checked by ``Config`` whenever one is made."""
    return field(default=default, metadata={"help": help, "env": env, "limits": limits})


SOCKET_PATH_LIMIT = 104
"""The longest path a Unix socket may have, in bytes with its final NUL (macOS 104, Linux 108)."""


@dataclass(frozen=True)
class StatePaths:
    """Every file and folder in one state folder (KIT_STATE_DIR).

    The names on disk are part of the kit's compatibility: a state folder made by an older kit (a running
    sandbox, pages, drill results) must keep working, so rename a property here, never a file.
    """

    root: Path

    @property
    def sandbox_record(self) -> Path:
        """sandbox.json: the running sandbox's config, processes and companions; written by kit.sandbox."""
        return self.root / "sandbox.json"

    @property
    def lock(self) -> Path:
        """.lock: held by kit.sandbox during `kit up`/`kit down`; its text says what the holder is doing."""
        return self.root / ".lock"

    @property
    def admin_token(self) -> Path:
        """admin-token: the services' admin API token, made by kit.sandbox at `kit up`, read by kit.shop.faults."""
        return self.root / "admin-token"

    @property
    def secret_drill(self) -> Path:
        """secret-drill: present while kit.drills runs a secret drill; the services then hide their faults."""
        return self.root / "secret-drill"

    @property
    def rendered(self) -> Path:
        """rendered/: the Prometheus/Alertmanager config and rules kit.sandbox renders for this sandbox."""
        return self.root / "rendered"

    @property
    def prometheus_config(self) -> Path:
        """rendered/prometheus.yml: what the sandbox's Prometheus runs with."""
        return self.rendered / PROMETHEUS_CONFIG

    @property
    def alertmanager_config(self) -> Path:
        """rendered/alertmanager.yml: what the sandbox's Alertmanager runs with."""
        return self.rendered / ALERTMANAGER_CONFIG

    @property
    def rendered_rules(self) -> Path:
        """rendered/rules/: the rule files Prometheus loads, the sandbox's own and those installed at run time."""
        return self.rendered / RULES_FOLDER

    def log(self, process: str) -> Path:
        """logs/<process>.log: the output of one sandbox process, written by it as kit.sandbox spawned it."""
        return self.root / "logs" / f"{process}.log"

    @property
    def alertmanager_data(self) -> Path:
        """alertmanager-data/: Alertmanager's storage (silences, notification log)."""
        return self.root / "alertmanager-data"

    @property
    def prometheus_data(self) -> Path:
        """prometheus-data/: Prometheus's TSDB; kit.history moves backfilled blocks into it."""
        return self.root / "prometheus-data"

    @property
    def installed_rules(self) -> Path:
        """installed-rules/: rule files added at run time by kit.sandbox.install_rules (SLOs, drills)."""
        return self.root / "installed-rules"

    @property
    def notifications(self) -> Path:
        """pages.jsonl: every notification the pager (kit.pager) received from Alertmanager, one JSON line each
        (firing and resolved, pages and tickets; the file keeps the name it had when it was called pages)."""
        return self.root / "pages.jsonl"

    @property
    def drills(self) -> Path:
        """drills/: kit.drills' active drill, runs and results, and kit.drills.mitigations' noisy neighbour."""
        return self.root / "drills"

    @property
    def active_drill(self) -> Path:
        """drills/active.json: the drill running now, written by kit.drills."""
        return self.drills / "active.json"

    @property
    def drill_lock(self) -> Path:
        """drills/.lock: held by kit.drills while it reads and rewrites the active drill."""
        return self.drills / ".lock"

    @property
    def drill_end_lock(self) -> Path:
        """drills/.end.lock: held by kit.drills for a whole `end`, so a second `end` waits and finds it over."""
        return self.drills / ".end.lock"

    @property
    def drill_runs(self) -> Path:
        """drills/runs/: one folder per drill run, named by its id, made by kit.drills."""
        return self.drills / "runs"

    def drill_run(self, run: str) -> Path:
        """drills/runs/<run>/: one drill run's folder, kept by kit.drills."""
        return self.drill_runs / run

    def drill_scenario(self, run: str) -> Path:
        """drills/runs/<run>/scenario.yml: the scenario a run started with, written by kit.drills."""
        return self.drill_run(run) / "scenario.yml"

    def drill_timeline(self, run: str) -> Path:
        """drills/runs/<run>/timeline.jsonl: the events of one drill run, appended by kit.drills and its watcher."""
        return self.drill_run(run) / "timeline.jsonl"

    def drill_watcher_log(self, run: str) -> Path:
        """drills/runs/<run>/watcher.log: the output of the run's watcher (kit.drills.watch)."""
        return self.drill_run(run) / "watcher.log"

    def drill_postmortem(self, run: str) -> Path:
        """drills/runs/<run>/postmortem.md: the postmortem draft kit.drills writes when the run ends."""
        return self.drill_run(run) / "postmortem.md"

    @property
    def drill_results(self) -> Path:
        """drills/results.jsonl: one line per finished drill, appended by kit.drills."""
        return self.drills / "results.jsonl"

    @property
    def neighbour(self) -> Path:
        """drills/neighbour.json: the noisy neighbour's process record, written by kit.drills.mitigations."""
        return self.drills / "neighbour.json"

    @property
    def neighbour_result(self) -> Path:
        """drills/neighbour-result.json: what the noisy neighbour's kit.load.openmodel run measured."""
        return self.drills / "neighbour-result.json"

    @property
    def neighbour_log(self) -> Path:
        """drills/neighbour.log: the noisy neighbour's output."""
        return self.drills / "neighbour.log"

    @property
    def releases(self) -> Path:
        """releases/: kit.releases' deploy log and the incidents recorded beside it."""
        return self.root / "releases"

    @property
    def deploy_log(self) -> Path:
        """releases/deploys.jsonl: every deploy, promotion, pause, rollback and flag change, one JSON line each,
        only ever appended (kit.releases.deploylog)."""
        return self.releases / "deploys.jsonl"

    @property
    def recorded_incidents(self) -> Path:
        """releases/incidents.jsonl: production incidents recorded by hand or by a backfilled deploy history, one
        JSON line each; kit.releases.incidents reads them beside the drill results and the pages."""
        return self.releases / "incidents.jsonl"

    @property
    def history_marker(self) -> Path:
        """history.json: what kit.history last backfilled, so backfilling the same history again does nothing."""
        return self.root / "history.json"

    @property
    def history_work(self) -> Path:
        """history-work/: kit.history's scratch folder for OpenMetrics files and promtool blocks while it backfills."""
        return self.root / "history-work"

    @property
    def proxy_config(self) -> Path:
        """rendered/haproxy.cfg: what the sandbox's HAProxy runs with, rendered by kit.sandbox."""
        return self.rendered / PROXY_CONFIG

    @property
    def proxy_socket(self) -> Path:
        """haproxy.sock: HAProxy's runtime API (weights, server states, stats), used by kit.releases.canary.

        In the state folder, unless that path is too long for a Unix socket (``SOCKET_PATH_LIMIT``: a learner's
        home on a hub, a test's temporary folder): then in a folder of this user's own, named for the state
        folder, under ``$XDG_RUNTIME_DIR`` or else the temporary folder, whichever is short enough
        (kit.sandbox.render makes it, private).
        """
        natural = self.root / "haproxy.sock"
        if len(os.fsencode(natural)) < SOCKET_PATH_LIMIT:
            return natural
        folder = f"kit-{os.getuid()}-{hashlib.sha256(os.fsencode(self.root)).hexdigest()[:16]}"
        bases = [base for base in (os.environ.get("XDG_RUNTIME_DIR"), tempfile.gettempdir(), "/tmp") if base]
        return next((path for path in (Path(base) / folder / "haproxy.sock" for base in bases)
                     if len(os.fsencode(path)) < SOCKET_PATH_LIMIT), Path(bases[-1]) / folder / "haproxy.sock")

    @property
    def shop_targets(self) -> Path:
        """rendered/shop-targets.json: the shop's two scrape slots (file_sd), stable and canary, each with its track;
        written by kit.sandbox at `kit up`, the same whether a canary runs or not."""
        return self.rendered / SHOP_TARGETS

    @property
    def flags(self) -> Path:
        """rendered/flags.flagd.json: the shop's feature flags in flagd's format, copied from sandbox/ at `kit up`
        only when missing (a flag change outlives `kit up`), changed by kit.releases.flags; every shop process
        reloads it on its own (kit.flags)."""
        return self.rendered / FLAGS_FILE

    @property
    def release(self) -> Path:
        """release.json: the stable shop's version and the canary's (version, weight), kept by kit.releases.canary."""
        return self.root / "release.json"

    @property
    def runbook_drafts(self) -> Path:
        """runbook-drafts/: runbooks drafted from alerts by kit.runbooks."""
        return self.root / "runbook-drafts"

    @property
    def runbook_notebooks(self) -> Path:
        """runbooks/: runbooks opened as notebooks by `kit runbooks notebook` (kit.runbooks)."""
        return self.root / "runbooks"

    def jupyter(self, role: str) -> Path:
        """jupyter/<role>/: the settings of kit.labserver's JupyterLab for a learner or a facilitator."""
        return self.root / "jupyter" / role

    @property
    def chaos_days(self) -> Path:
        """<state folder>-chaos-days/, beside the state folder, not in it: a Chaos Day plan's folder of sandboxes,
        one state folder per mob (kit.community.chaosday), none of them inside another sandbox's."""
        return self.root.with_name(self.root.name + "-chaos-days")

    @property
    def mob_session(self) -> Path:
        """mob.json: the mob timer's session (roster, plan, pauses), saved by kit.mob."""
        return self.root / "mob.json"

    @property
    def mob_server(self) -> Path:
        """mob-server/: the mob's shared JupyterLab (kit.mobserver): join links and Jupyter's collaboration stores."""
        return self.root / "mob-server"

    @property
    def mob_links(self) -> Path:
        """mob-server/links.json: one join link (name and secret) per mob member, kept by kit.mobserver."""
        return self.mob_server / "links.json"

    @property
    def work(self) -> Path:
        """work/: the learner's working copies of the labs (kit.grading.workcopy) when KIT_WORK_DIR is not set."""
        return self.root / "work"


@dataclass(frozen=True)
class Profile:
    """How fast the sandbox runs: scrape/evaluation cadence and alert routing timers.

    ``time_scale`` compresses every duration written in the rule files
    (range windows, ``for:``) so that alerts written for production timing
    fire proportionally sooner; the alerting logic itself is unchanged.
    """

    name: str
    scrape_interval: str
    evaluation_interval: str
    group_wait: str
    group_interval: str
    repeat_interval: str
    resend_delay: str
    time_scale: int


PROFILES: dict[str, Profile] = {
    "lab": Profile("lab", "1s", "1s", "1s", "1s", "1h", "1s", 15),
    "realistic": Profile("realistic", "15s", "15s", "30s", "5m", "4h", "1m", 1),
}

_PORT = {"ge": 1, "le": 65535}
"""The limits of a TCP port setting."""


@dataclass(frozen=True)
class Config:
    """Everything the sandbox needs to know about where it runs."""

    host: str = _setting("127.0.0.1", "address every sandbox listener binds", "KIT_HOST")
    profile: str = _setting("lab", "timing profile: lab (1 s) or realistic (15 s)", "KIT_PROFILE",
                            choices=tuple(PROFILES))
    shop_port: int = _setting(18080, "port of the shop as its users reach it: HAProxy, in front of the stable shop "
                              "and a canary", "KIT_SHOP_PORT", **_PORT)
    payments_port: int = _setting(18081, "port of the payments service", "KIT_PAYMENTS_PORT", **_PORT)
    pager_port: int = _setting(18082, "port of the pager (Alertmanager webhook receiver)", "KIT_PAGER_PORT", **_PORT)
    prometheus_port: int = _setting(19090, "port of Prometheus", "KIT_PROMETHEUS_PORT", **_PORT)
    alertmanager_port: int = _setting(19093, "port of Alertmanager", "KIT_ALERTMANAGER_PORT", **_PORT)
    shop_stable_port: int = _setting(18083, "internal port of the stable shop process, behind HAProxy",
                                     "KIT_SHOP_STABLE_PORT", **_PORT)
    shop_canary_port: int = _setting(18084, "internal port of a canary shop process (`kit release deploy`)",
                                     "KIT_SHOP_CANARY_PORT", **_PORT)
    proxy_port: int = _setting(18085, "port of HAProxy's Prometheus exporter and health check", "KIT_PROXY_PORT",
                               **_PORT)
    traffic_rps: float = _setting(8.0, "requests per second of background traffic (0 turns it off)", "KIT_TRAFFIC_RPS",
                                  ge=0, allow_inf_nan=False)
    shop_slots: int = _setting(8, "worker slots of the shop's simulated capacity", "KIT_SHOP_SLOTS", ge=1)
    shop_queue: int = _setting(32, "requests that may wait for a slot before the shop sheds load", "KIT_SHOP_QUEUE",
                               ge=0)
    state_dir: str = _setting(_default_state_dir(), "where pid files, logs, data and the admin token live", "KIT_STATE_DIR")
    work_dir: str = _setting("", "your own copies of the labs, which `kit lab` opens (empty: <state_dir>/work)",
                             "KIT_WORK_DIR")
    sandbox_dir: str = _setting(str(CONTENT.sandbox), "folder of the Prometheus/Alertmanager config and rules", "KIT_SANDBOX_DIR")
    allow_remote: bool = _setting(False, "allow binding to an address other than loopback", "KIT_ALLOW_REMOTE")

    def __post_init__(self) -> None:
        from .validation import validated  # here, not at the top: pydantic takes far longer to import than kit.config

        validated(_models()[0], {f.name: getattr(self, f.name) for f in fields(self)}, error=_setting_refused)
        if not self.allow_remote and self.host not in LOOPBACK:
            raise InvalidInput(
                "host", f"{self.host} is not loopback; set KIT_ALLOW_REMOTE=1 to expose the sandbox on purpose"
            )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Config":
        """Defaults, then KIT_* variables, then explicit keyword overrides.

        Raises InvalidInput naming the KIT_* variable whose text is not of its setting's type (``eighty`` for
        a port), or the setting whose value is out of its limits.
        """
        from .validation import validated

        env = os.environ if env is None else env
        given = {f.metadata["env"]: env[f.metadata["env"]] for f in fields(cls) if env.get(f.metadata["env"])}
        values = validated(_models()[1], given).model_dump(exclude_unset=True)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def from_saved(cls, data: dict) -> "Config":
        """A Config from a state file, ignoring settings an older or newer kit wrote."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes) -> "Config":
        return replace(self, **changes)

    @property
    def profile_spec(self) -> Profile:
        return PROFILES[self.profile]

    @property
    def state(self) -> Path:
        return Path(self.state_dir)

    @property
    def paths(self) -> StatePaths:
        """The files and folders of this config's state folder."""
        return StatePaths(self.state)

    @property
    def work(self) -> Path:
        """The folder of the learner's (or the mob's) working copies of the labs."""
        return Path(self.work_dir).expanduser() if self.work_dir else self.paths.work

    @property
    def token_file(self) -> Path:
        return self.paths.admin_token

    @property
    def secret_drill_file(self) -> Path:
        """Present while a secret drill runs: the services' admin API then lists faults only when asked to reveal."""
        return self.paths.secret_drill

    def url(self, name: str) -> str:
        host = "[::1]" if self.host == "::1" else self.host
        return f"http://{host}:{getattr(self, name + '_port')}"

    def environment(self) -> dict[str, str]:
        """Every setting as its KIT_* variable: a child process given these reads back this same Config."""
        return {f.metadata["env"]: str(getattr(self, f.name)) for f in fields(self)}

    def describe(self) -> list[tuple[str, str, str, str]]:
        """(field, env var, value, help) for every setting, for `kit config`."""
        resolved = {"work_dir": str(self.work)}
        return [(f.name, f.metadata["env"], resolved.get(f.name, str(getattr(self, f.name))), f.metadata["help"])
                for f in fields(self)]


PORTS: tuple[str, ...] = tuple(f.name for f in fields(Config) if f.metadata["limits"] == _PORT)
"""Every port setting of a sandbox: a sandbox of its own (a test's, a learner's, a throwaway) needs all of them."""


def resolve(config: Config | None = None) -> Config:
    """The config of the sandbox to talk to: ``config`` when given; else the config the running sandbox
    recorded in the environment's state folder, so a notebook or shell whose KIT_* variables changed after
    `kit up` still reaches the sandbox that runs; else the environment's.

    Every module that talks to "the sandbox" without being handed a config asks here, so no two of them
    can reach two different sandboxes.
    """
    if config is not None:
        return config
    env = Config.from_env()
    saved = _recorded(env.paths.sandbox_record)
    return Config.from_saved(saved) if saved else env


def _recorded(path: Path) -> dict:
    """The "config" kit.sandbox recorded in ``path`` (sandbox.json), {} when there is none or the file is cut short."""
    try:
        return json.loads(path.read_text()).get("config", {})
    except (FileNotFoundError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # no sandbox recorded, or a state file cut short by a crash


@functools.cache
def _models() -> tuple[type, type]:
    """(settings, environment): pydantic models of Config's settings, made once from their declarations.

    The settings model checks values of their declared types (strict: ``"8"`` is not a port) and limits;
    the environment model reads KIT_* texts into those types (``"8"`` is 8, ``"yes"`` is true), by variable.
    """
    from typing import Annotated, Literal, get_type_hints

    from pydantic import Field, create_model

    from .validation import Document

    types = get_type_hints(Config)
    settings, variables = {}, {}
    for f in fields(Config):
        limits = dict(f.metadata["limits"])
        choices = limits.pop("choices", None)
        kind = Literal[choices] if choices else Annotated[types[f.name], Field(strict=True, **limits)]
        settings[f.name] = (kind, ...)
        variables[f.name] = (types[f.name] | None, Field(None, alias=f.metadata["env"]))
    environment = create_model("Environment", __base__=Document, **variables)
    return create_model("Settings", __base__=Document, **settings), environment


def _setting_refused(field: str, problem: str, *, source: str = "") -> InvalidInput:
    """A refused setting's error, telling which KIT_* variable sets it."""
    env = Config.__dataclass_fields__[field].metadata["env"]
    return InvalidInput(field, f"{problem}; set {env}", source=source)
