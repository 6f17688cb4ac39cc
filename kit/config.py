"""Ports, paths and profiles, each declared once with its help text and KIT_* override."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .errors import InvalidInput

REPO_ROOT = Path(__file__).resolve().parent.parent

LOOPBACK = ("127.0.0.1", "localhost", "::1")
"""Addresses every sandbox listener may bind without the explicit remote flag."""


def _default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return str(Path(base) / "reliability-dojo")


def _setting(default, help: str, env: str):
    return field(default=default, metadata={"help": help, "env": env})


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


@dataclass(frozen=True)
class Config:
    """Everything the sandbox needs to know about where it runs."""

    host: str = _setting("127.0.0.1", "address every sandbox listener binds", "KIT_HOST")
    profile: str = _setting("lab", "timing profile: lab (1 s) or realistic (15 s)", "KIT_PROFILE")
    shop_port: int = _setting(18080, "port of the shop service", "KIT_SHOP_PORT")
    payments_port: int = _setting(18081, "port of the payments service", "KIT_PAYMENTS_PORT")
    pager_port: int = _setting(18082, "port of the pager (Alertmanager webhook receiver)", "KIT_PAGER_PORT")
    prometheus_port: int = _setting(19090, "port of Prometheus", "KIT_PROMETHEUS_PORT")
    alertmanager_port: int = _setting(19093, "port of Alertmanager", "KIT_ALERTMANAGER_PORT")
    traffic_rps: float = _setting(8.0, "requests per second of background traffic (0 turns it off)", "KIT_TRAFFIC_RPS")
    shop_slots: int = _setting(8, "worker slots of the shop's simulated capacity", "KIT_SHOP_SLOTS")
    shop_queue: int = _setting(32, "requests that may wait for a slot before the shop sheds load", "KIT_SHOP_QUEUE")
    state_dir: str = _setting(_default_state_dir(), "where pid files, logs, data and the admin token live", "KIT_STATE_DIR")
    work_dir: str = _setting("", "your own copies of the labs, which `kit lab` opens (empty: <state_dir>/work)",
                             "KIT_WORK_DIR")
    sandbox_dir: str = _setting(str(REPO_ROOT / "sandbox"), "folder of the Prometheus/Alertmanager config and rules", "KIT_SANDBOX_DIR")
    allow_remote: bool = _setting(False, "allow binding to an address other than loopback", "KIT_ALLOW_REMOTE")

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise InvalidInput("profile", f"{self.profile!r} is not a profile; choose one of {', '.join(PROFILES)}")
        for f in fields(self):
            if f.name.endswith("_port"):
                port = getattr(self, f.name)
                if not 1 <= port <= 65535:
                    raise InvalidInput(f.name, f"{port} is not a TCP port (1-65535); set {f.metadata['env']}")
        if self.traffic_rps < 0:
            raise InvalidInput("traffic_rps", "must be 0 or more")
        if self.shop_slots < 1 or self.shop_queue < 0:
            raise InvalidInput("shop_slots", "need at least 1 slot and a queue of 0 or more")
        if not self.allow_remote and self.host not in LOOPBACK:
            raise InvalidInput(
                "host", f"{self.host} is not loopback; set KIT_ALLOW_REMOTE=1 to expose the sandbox on purpose"
            )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Config":
        """Defaults, then KIT_* variables, then explicit keyword overrides."""
        env = os.environ if env is None else env
        values = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes) -> "Config":
        return replace(self, **changes)

    @property
    def profile_spec(self) -> Profile:
        return PROFILES[self.profile]

    @property
    def state(self) -> Path:
        return Path(self.state_dir)

    @property
    def work(self) -> Path:
        """The folder of the learner's (or the mob's) working copies of the labs."""
        return Path(self.work_dir).expanduser() if self.work_dir else self.state / "work"

    @property
    def token_file(self) -> Path:
        return self.state / "admin-token"

    @property
    def secret_drill_file(self) -> Path:
        """Present while a secret drill runs: the services' admin API then lists faults only when asked to reveal."""
        return self.state / "secret-drill"

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


def _parse(f, raw: str):
    kind = f.type if isinstance(f.type, type) else {"int": int, "float": float, "bool": bool, "str": str}[f.type]
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    try:
        return kind(raw)
    except ValueError:
        raise InvalidInput(f.metadata["env"], f"{raw!r} is not a valid {kind.__name__}") from None
