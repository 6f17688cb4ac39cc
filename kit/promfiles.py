"""Prometheus and Alertmanager files: read, write readable YAML, and check with the real promtool.

Shared by the sandbox (rendered configuration, installed rules) and the SLO
rule generator, so every rule file the kit writes looks the same and is
checked the same way.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from . import binaries


# libyaml's parser and emitter where PyYAML was built with it: ~10x faster than the pure-Python ones,
# and `kit up` renders every configuration and rule file before it can start Prometheus.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Multi-line strings (PromQL, descriptions) as literal blocks."""


_Dumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def to_yaml(doc: Mapping[str, Any]) -> str:
    """A config, rule or test document as readable YAML (key order kept, PromQL as blocks)."""
    return yaml.dump(dict(doc), Dumper=_Dumper, sort_keys=False, width=10_000, allow_unicode=True)


def write_yaml(path: Path, doc: Mapping[str, Any]) -> None:
    path.write_text(to_yaml(doc), encoding="utf-8")


def read_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_SafeLoader)


@dataclass(frozen=True)
class PromtoolResult:
    """What promtool said; ``passed`` is its exit status."""

    passed: bool
    output: str


def promtool(args: Sequence[str], files: Mapping[str, Mapping[str, Any]]) -> PromtoolResult:
    """Run promtool with ``args`` in a scratch folder holding ``files`` (name → YAML document)."""
    with tempfile.TemporaryDirectory(prefix="kit-promtool-") as tmp:
        for name, content in files.items():
            write_yaml(Path(tmp) / name, content)
        done = subprocess.run([str(binaries.path("promtool")), *args], cwd=tmp, capture_output=True, text=True,
                              timeout=120)
    return PromtoolResult(done.returncode == 0, (done.stdout + done.stderr).strip())


def check_rules(doc: Mapping[str, Any]) -> PromtoolResult:
    """``promtool check rules`` on a rule document."""
    return promtool(["check", "rules", "rules.yml"], {"rules.yml": doc})
