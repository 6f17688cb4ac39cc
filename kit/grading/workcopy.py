"""Learners' own copies of the labs, outside the tracked tree.

``labs/`` is generated (``kit labs build`` rewrites it) and tracked by git, so answers
saved there are lost to a rebuild or collide with ``git pull``. Each learner, or each
mob sharing one JupyterLab, works in a folder of its own (``Config.work``, set with
``KIT_WORK_DIR``) that holds ``<lab>/<lab>.ipynb`` copies of ``labs/``.

Copy on first open, never over someone's work:

- a lab file missing from the working folder is copied from ``labs/``;
- a copy the learner has not started (its cells' sources are still those of the
  release it was copied from: outputs and metadata do not count) follows ``labs/``
  when a newer release appears;
- a started copy is never overwritten; ``fresh`` puts the released version in place
  and keeps the learner's as ``<name>.backup-<UTC time><suffix>`` beside it.

What was copied from which release is recorded in ``<work>/.kit/copies.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..atomicfile import write_atomically
from ..config import CONTENT, REPO_ROOT, Config, ContentPaths
from ..errors import InvalidInput

MANIFEST = Path(".kit") / "copies.json"
REFERENCES = (CONTENT.runbooks.name,)
"""Tracked folders a lab asks learners to open beside it; linked (not copied) into the working folder."""
_IGNORED = (".ipynb_checkpoints", "__pycache__")

CREATED, UPDATED, CURRENT, KEPT, NEWER, FRESH = "created", "updated", "current", "kept", "newer", "fresh"


@dataclass(frozen=True)
class CopyResult:
    """What happened to one file of a lab's working copy.

    ``action``: created (copied, it was missing), updated (an unstarted copy now
    follows a newer release), current (nothing to do), kept (a file of unknown origin
    or differing from ``labs/``, left alone), newer (``labs/`` has a newer release
    but the learner has started: left alone), fresh (the release put in place,
    the learner's file moved to ``backup``).
    """

    lab: str
    path: Path
    action: str
    backup: Path | None = None

    def __str__(self) -> str:
        if self.action == NEWER:
            return (f"{self.path}: labs/ has a newer version of {self.lab}; yours holds your answers and is kept. "
                    f"For the new version run `kit labs copy {self.lab} --fresh` (yours is kept as a backup).")
        if self.action == KEPT:
            return (f"{self.path}: differs from labs/ and is kept; "
                    f"`kit labs copy {self.lab} --fresh` puts the released version in place (yours kept as a backup)")
        if self.action == FRESH:
            saved = f"; yours is now {self.backup}" if self.backup else ""
            return f"{self.path}: the released version of {self.lab}{saved}"
        return f"{self.path}: {self.action}"


def lab_names(root: Path = REPO_ROOT) -> list[str]:
    """The labs released in ``root/labs``: folders holding ``<folder>/<folder>.ipynb``."""
    folder = ContentPaths(Path(root)).labs
    if not folder.is_dir():
        return []
    return sorted(d.name for d in folder.iterdir() if (d / f"{d.name}.ipynb").is_file())


def find_lab(name: str, root: Path = REPO_ROOT) -> str:
    """The lab a person means: its full name, its number (``6``, ``06``) or a unique start of its name.

    Raises InvalidInput listing the labs when none or several match.
    """
    labs = lab_names(root)
    text = name.strip().rstrip("/")
    if text in labs:
        return text
    if text.isdigit():
        text = text.zfill(2)
    found = [lab for lab in labs if lab.startswith(text + "-")] or [lab for lab in labs if lab.startswith(text)]
    if len(found) == 1:
        return found[0]
    problem = f"{name!r} matches {', '.join(found)}" if found else f"{name!r} is not a lab"
    raise InvalidInput("lab", f"{problem}; labs: {', '.join(labs) or 'none'}")


def notebook(lab: str, config: Config | None = None) -> Path:
    """Where the working copy of ``lab``'s notebook is (it may not exist yet)."""
    return (config or Config.from_env()).work / lab / f"{lab}.ipynb"


def resolve(target: str, config: Config | None = None, root: Path = REPO_ROOT) -> Path:
    """What `kit check TARGET` grades: an existing file as given, else the working copy of the lab TARGET names.

    Raises InvalidInput when TARGET is neither a file nor a lab, or the lab has no working copy yet.
    """
    if Path(target).is_file() or target.endswith(".ipynb"):
        return Path(target)
    lab = find_lab(target, root)
    path = notebook(lab, config)
    if not path.is_file():
        raise InvalidInput("notebook", f"there is no working copy of {lab} at {path} yet; "
                                       f"`kit lab` or `kit labs copy {lab}` makes one")
    return path


def ensure(config: Config | None = None, labs: list[str] | None = None, *, root: Path = REPO_ROOT) -> list[CopyResult]:
    """Bring the working folder up to date with ``labs/`` without overwriting anyone's work (see the module doc).

    Also links the reference folders (``runbooks/``) into it. Returns one result per lab file.
    """
    config = config or Config.from_env()
    work = config.work
    work.mkdir(parents=True, exist_ok=True)
    _link_references(work, Path(root))
    manifest = _load_manifest(work)
    results = []
    for lab in labs if labs is not None else lab_names(root):
        for rel, released in _release_files(Path(root), lab).items():
            results.append(_sync(lab, rel, released, work, manifest))
    _save_manifest(work, manifest)
    return results


def fresh(lab: str, config: Config | None = None, *, root: Path = REPO_ROOT,
          now: float | None = None) -> list[CopyResult]:
    """Put the released version of ``lab`` in the working folder, moving a learner's differing file to a backup.

    ``now`` (seconds since the epoch, default the clock) names the backup.
    """
    config = config or Config.from_env()
    lab = find_lab(lab, root)
    work = config.work
    work.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(work)
    results = []
    for rel, released in _release_files(Path(root), lab).items():
        dest = work / rel
        backup = None
        if dest.exists() and _fingerprint(dest) != _fingerprint(released):
            backup = _backup_path(dest, time.time() if now is None else now)
            os.replace(dest, backup)
        _copy(released, dest)
        manifest[rel] = _entry(released)
        results.append(CopyResult(lab, dest, FRESH, backup))
    _save_manifest(work, manifest)
    return results


def report(results: list[CopyResult], config: Config | None = None) -> str:
    """A few lines for a person: where the copies are, what was copied or updated, what needs their decision."""
    work = (config or Config.from_env()).work
    counts = {action: sum(r.action == action for r in results) for action in (CREATED, UPDATED)}
    lines = [f"your working copies of the labs: {work}"]
    done = [f"{n} {action}" for action, n in counts.items() if n]
    if done:
        lines[0] += f" ({', '.join(done)} from labs/)"
    lines += [str(r) for r in results if r.action in (KEPT, NEWER, FRESH)]
    return "\n".join(lines)


# ---------------------------------------------------------------- the rule for one file


def _sync(lab: str, rel: str, released: Path, work: Path, manifest: dict[str, dict[str, str]]) -> CopyResult:
    dest = work / rel
    entry = manifest.get(rel)
    if not dest.exists():
        _copy(released, dest)
        manifest[rel] = _entry(released)
        return CopyResult(lab, dest, CREATED)
    release_hash = _sha256(released.read_bytes())
    if entry is None:  # not copied by the kit (or the record is gone): someone's file, never replaced
        if _fingerprint(dest) != _fingerprint(released):
            return CopyResult(lab, dest, KEPT)
        manifest[rel] = _entry(released)
        return CopyResult(lab, dest, CURRENT)
    if entry["release"] == release_hash:
        return CopyResult(lab, dest, CURRENT)
    if _fingerprint(dest) == entry["content"]:  # not started: follow the new release
        _copy(released, dest)
        manifest[rel] = _entry(released)
        return CopyResult(lab, dest, UPDATED)
    return CopyResult(lab, dest, NEWER)


def _entry(released: Path) -> dict[str, str]:
    return {"release": _sha256(released.read_bytes()), "content": _fingerprint(released)}


def _fingerprint(path: Path) -> str:
    """What the learner wrote: a notebook's cell types and sources (not outputs or metadata); other files' bytes."""
    data = path.read_bytes()
    if path.suffix != ".ipynb":
        return _sha256(data)
    try:
        cells = json.loads(data)["cells"]
        written = [[c.get("cell_type"), _text(c.get("source", ""))] for c in cells]
    except (ValueError, KeyError, TypeError, AttributeError):  # damaged: compare the bytes, which never match a release
        return _sha256(data)
    return _sha256(json.dumps(written).encode())


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else str(source)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- files


def _release_files(root: Path, lab: str) -> dict[str, Path]:
    folder = ContentPaths(root).labs / lab
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _IGNORED)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            found[path.relative_to(ContentPaths(root).labs).as_posix()] = path
    return found


def _copy(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.kit-tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)


def _backup_path(dest: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    candidate = dest.with_name(f"{dest.stem}.backup-{stamp}{dest.suffix}")
    n = 2
    while candidate.exists():
        candidate = dest.with_name(f"{dest.stem}.backup-{stamp}-{n}{dest.suffix}")
        n += 1
    return candidate


def _link_references(work: Path, root: Path) -> None:
    """Symlink each reference folder; a learner's own file or folder of that name is left alone."""
    for name in REFERENCES:
        link, target = work / name, (root / name).resolve()
        if link.is_symlink() and Path(os.readlink(link)) != target:
            link.unlink()  # points at another checkout of the kit
        if not link.exists() and not link.is_symlink() and target.is_dir():
            link.symlink_to(target, target_is_directory=True)


def _load_manifest(work: Path) -> dict[str, dict[str, str]]:
    path = work / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict) and {"release", "content"} <= set(v)} \
        if isinstance(data, dict) else {}


def _save_manifest(work: Path, manifest: dict[str, dict[str, str]]) -> None:
    path = work / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(manifest, indent=1, sort_keys=True), mode=0o644)
