"""Find, check and install the real Prometheus, Alertmanager, promtool, amtool and HAProxy.

PATH first (and a KIT_<TOOL>_BIN override), then the system package manager.
Debian's ``prometheus-alertmanager`` package names its binary
``prometheus-alertmanager``, so each tool has several candidate names. Debian puts
``haproxy`` in /usr/sbin, which is not on a normal user's PATH, so the sbin folders
are searched after PATH.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .errors import BinaryMissing


@dataclass(frozen=True)
class Tool:
    name: str
    candidates: tuple[str, ...]
    minimum: tuple[int, int]
    apt: str
    brew: str

    @property
    def env_var(self) -> str:
        return f"KIT_{self.name.upper()}_BIN"


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("prometheus", ("prometheus",), (2, 37), "prometheus", "prometheus"),
        Tool("promtool", ("promtool",), (2, 37), "prometheus", "prometheus"),
        Tool("alertmanager", ("alertmanager", "prometheus-alertmanager"), (0, 24), "prometheus-alertmanager", "alertmanager"),
        Tool("amtool", ("amtool",), (0, 24), "prometheus-alertmanager", "alertmanager"),
        # 2.2: `http-error`; the Prometheus exporter service must be built in (Debian's and Homebrew's are).
        Tool("haproxy", ("haproxy",), (2, 2), "haproxy", "haproxy"),
    )
}

_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")
"""Where system packages put daemons (Debian's haproxy), searched after PATH."""

_VERSION = re.compile(r"version (\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Found:
    name: str
    path: Path
    version: str


def locate(name: str) -> Path | None:
    """The tool's path from its KIT_*_BIN override or PATH, or None."""
    tool = TOOLS[name]
    override = os.environ.get(tool.env_var)
    if override:
        path = Path(override)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_SBIN])
    for candidate in tool.candidates:
        hit = shutil.which(candidate, path=search)
        if hit:
            return Path(hit)
    return None


def version_of(path: Path) -> str:
    """The x.y.z a tool prints for ``--version`` (they print it on stdout or stderr; HAProxy only knows ``-v``)."""
    out = subprocess.run([str(path), "-v" if path.name == "haproxy" else "--version"], capture_output=True, text=True, timeout=20)
    match = _VERSION.search(out.stdout + out.stderr)
    return ".".join(match.groups()) if match else "unknown"


def install_command() -> list[str]:
    """The package-manager command that installs every tool on this system."""
    if platform.system() == "Darwin":
        return ["brew", "install", *sorted({t.brew for t in TOOLS.values()})]
    apt = ["apt-get", "install", "-y", "--no-install-recommends", *sorted({t.apt for t in TOOLS.values()})]
    if os.geteuid() != 0:
        apt.insert(0, "sudo")
    return apt


def find_all() -> dict[str, Found]:
    """Every tool located and version-checked, or one BinaryMissing naming what to run."""
    found: dict[str, Found] = {}
    problems: list[str] = []
    paths = {name: locate(name) for name in TOOLS}
    # Each probe starts a Go binary; run together they cost `kit up` one probe's wait, not four.
    with ThreadPoolExecutor(len(TOOLS)) as pool:
        versions = dict(zip(paths, pool.map(lambda p: p and version_of(p), paths.values())))
    for name, tool in TOOLS.items():
        path = paths[name]
        if path is None:
            problems.append(f"{name} not found (looked for {', '.join(tool.candidates)} on PATH and {tool.env_var})")
            continue
        version = versions[name]
        if version != "unknown" and tuple(int(p) for p in version.split(".")[:2]) < tool.minimum:
            need = ".".join(map(str, tool.minimum))
            problems.append(f"{name} at {path} is version {version}; the kit needs {need} or newer")
            continue
        found[name] = Found(name, path, version)
    if problems:
        raise BinaryMissing(
            "; ".join(problems) + f". Install them with: {' '.join(install_command())}"
            " (conda users: see environment.yml), or point the KIT_<TOOL>_BIN variables at your own copies."
        )
    return found


def path(name: str) -> Path:
    """One tool's path, raising BinaryMissing with the install command when it is absent."""
    hit = locate(name)
    if hit is None:
        tool = TOOLS[name]
        raise BinaryMissing(
            f"{name} not found (looked for {', '.join(tool.candidates)} on PATH and {tool.env_var}). "
            f"Install it with: {' '.join(install_command())}"
        )
    return hit


def install(progress=print) -> dict[str, Found]:
    """Install missing tools with the system package manager; a no-op when all are present."""
    missing = [name for name in TOOLS if locate(name) is None]
    if missing:
        command = install_command()
        manager = command[1] if command[0] == "sudo" else command[0]
        if shutil.which(manager) is None:
            raise BinaryMissing(
                f"missing {', '.join(missing)} and no {manager} on this machine. Install Prometheus, "
                "Alertmanager and HAProxy yourself (conda: see environment.yml) and put them on PATH or set "
                "KIT_<TOOL>_BIN."
            )
        if command[0] == "apt-get" or command[:2] == ["sudo", "apt-get"]:
            update = command[: command.index("apt-get") + 1] + ["update", "-qq"]
            progress(f"$ {' '.join(update)}")
            subprocess.run(update, check=False)
        progress(f"$ {' '.join(command)}")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(command, env=env)
        if result.returncode != 0:
            raise BinaryMissing(f"`{' '.join(command)}` failed with exit code {result.returncode}; run it yourself and retry")
    return find_all()
