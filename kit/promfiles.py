"""Prometheus and Alertmanager files: read, write readable YAML, and check with the real promtool.

Shared by the sandbox (rendered configuration, installed rules) and the SLO
rule generator, so every rule file the kit writes looks the same and is
checked the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from . import binaries
from .atomicfile import write_atomically


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
    """Replace ``path`` with ``doc`` as YAML all at once: Prometheus, or `kit status` counting rules, may read it
    while `kit up` renders. Readable by all, as Prometheus's container user must read it. Raises OSError."""
    write_atomically(path, to_yaml(doc), mode=0o644)


def read_yaml(path: Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_SafeLoader)


@dataclass(frozen=True)
class PromtoolResult:
    """What promtool said; ``passed`` is its exit status."""

    passed: bool
    output: str


def promtool(args: Sequence[str], files: Mapping[str, Mapping[str, Any]]) -> PromtoolResult:
    """Run promtool with ``args`` in a scratch folder holding ``files`` (name → YAML document).

    What promtool says depends only on its binary and its input, so the answer is kept in the user's cache
    folder (``$XDG_CACHE_HOME/reliability-dojo/promtool``, the newest ``CACHE_ENTRIES``) and given again for
    the same binary, arguments and files: a drill or a lab installs the same rules every time it runs.
    """
    binary = binaries.path("promtool")
    texts = {name: to_yaml(content) for name, content in files.items()}
    entry = cache_folder() / f"{_cache_key(binary, args, texts)}.json"
    try:
        result = PromtoolResult(**json.loads(entry.read_text(encoding="utf-8")))
        os.utime(entry)
        return result
    except (OSError, ValueError, TypeError):
        pass
    with tempfile.TemporaryDirectory(prefix="kit-promtool-") as tmp:
        for name, text in texts.items():
            Path(tmp, name).write_text(text, encoding="utf-8")
        done = subprocess.run([str(binary), *args], cwd=tmp, capture_output=True, text=True, timeout=120)
    result = PromtoolResult(done.returncode == 0, (done.stdout + done.stderr).strip())
    _remember(entry, result)
    return result


CACHE_ENTRIES = 512
"""Answers kept; past that the least recently used quarter goes."""


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reliability-dojo" / "promtool"


def _cache_key(binary: Path, args: Sequence[str], texts: Mapping[str, str]) -> str:
    stat = binary.stat()
    key = json.dumps([str(binary), stat.st_size, stat.st_mtime_ns, list(args), sorted(texts.items())])
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _remember(entry: Path, result: PromtoolResult) -> None:
    """Keep ``result``; a cache that cannot be written only means promtool runs again next time."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(entry, json.dumps(asdict(result)))
        entries = sorted(entry.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:len(entries) - CACHE_ENTRIES * 3 // 4] if len(entries) > CACHE_ENTRIES else []:
            old.unlink(missing_ok=True)
    except OSError:
        pass


def check_rules(doc: Mapping[str, Any]) -> PromtoolResult:
    """``promtool check rules`` on a rule document."""
    return promtool(["check", "rules", "rules.yml"], {"rules.yml": doc})
