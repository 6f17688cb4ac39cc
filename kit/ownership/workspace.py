"""The ownership folder a learner works in during lab 08: their own copy of what the scorecard reads.

Lab 08 raises the shop's level by changing real files and the real sandbox, never the repository: the
catalog, the rotation, the SLO specs, the runbooks and the drills are copied into a folder beside the learner's
working copy of the lab (``<work>/08-service-ownership/ownership``), and the scorecard is pointed at it
(``Workspace.sources``). ``prepare`` puts that folder in the state the lab starts from, whatever an earlier run
left there:

- ``catalog/payments.yaml`` is a stub: only what Backstage requires of a Component (its name, type, lifecycle
  and owner), derived from the repository's entry, so the learner writes the rest;
- ``oncall/shop-team.ics`` is ``oncall/examples/gaps-and-overload.ics``, the rotation to repair;
- ``slos/`` holds the SLO specs without the error budget policy the shop's entry names;
- ``readiness/`` holds the template, the release classes and the draft review of a gold release
  (``readiness/examples/shop-1.2.0-draft.md``) as ``shop-1.2.0.md``.

The ``write_*`` methods save what a notebook cell wrote; each refuses text that its reader cannot read and then
leaves the file as it was, so a typo in one exercise never makes the scorecard of the next one fail to load.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..atomicfile import write_atomically
from ..config import CONTENT, Config
from ..errors import InvalidInput
from . import catalog as catalogs, oncall, review
from .scorecard import ANNOTATION_BUDGET_POLICY, Scorecard, Sources, scorecard

__all__ = ["FOLDER", "LAB", "RELEASE", "SERVICE", "STUBBED", "TEAM", "Workspace", "current", "prepare", "stub"]

LAB = "08-service-ownership"
"""The lab whose learners work in this folder."""
FOLDER = "ownership"
"""The folder's name beside the learner's copy of the lab's notebook."""
SERVICE = "shop"
"""The service whose level the lab raises."""
STUBBED = "payments"
"""The component whose catalog entry the learner writes."""
TEAM = "shop-team"
"""The team whose rotation the learner repairs (``oncall/<team>.ics``)."""
RELEASE = "1.2.0"
"""The gold release of the shop whose readiness review the learner completes (``readiness/shop-<release>.md``)."""

_COPIED = ("catalog", "runbooks", "slos", "drills")
_BROKEN_ROTATION = CONTENT.oncall / "examples" / "gaps-and-overload.ics"
_DRAFT_REVIEW = CONTENT.readiness / "examples" / f"{SERVICE}-{RELEASE}-draft.md"


def stub(entry: str) -> str:
    """The stub of a Component's descriptor (YAML text): apiVersion, kind, ``metadata.name`` and the ``spec``
    fields Backstage requires (type, lifecycle, owner), nothing else. Raises InvalidInput when ``entry`` is not
    one Component."""
    docs = [doc for doc in yaml.safe_load_all(entry) if doc is not None]
    if len(docs) != 1 or not isinstance(docs[0], dict) or docs[0].get("kind") != "Component":
        raise InvalidInput("entry", "expected the descriptor of one Component")
    doc = docs[0]
    kept = {"apiVersion": doc["apiVersion"], "kind": "Component", "metadata": {"name": doc["metadata"]["name"]},
            "spec": {key: doc["spec"][key] for key in ("type", "lifecycle", "owner")}}
    return yaml.safe_dump(kept, sort_keys=False)


@dataclass(frozen=True)
class Workspace:
    """The learner's ownership folder (``root``), laid out as the repository's content folders are."""

    root: Path

    def path(self, relative: str) -> Path:
        """A file or folder of the workspace, ``relative`` to its root (``catalog/payments.yaml``)."""
        return self.root / relative

    def read(self, relative: str) -> str:
        """The text of a file of the workspace. Raises InvalidInput when it does not exist."""
        try:
            return self.path(relative).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidInput("file", "no such file: run the lab's setup cell, which makes the folder",
                               source=str(self.path(relative))) from None

    @property
    def sources(self) -> Sources:
        """What the scorecard reads: this folder's content, the sandbox's drill results and deploy log."""
        return Sources(root=self.root)

    @property
    def rotation_file(self) -> Path:
        return self.path(f"oncall/{TEAM}.ics")

    @property
    def review_file(self) -> Path:
        return self.path(f"readiness/{SERVICE}-{RELEASE}.md")

    @property
    def policy_file(self) -> Path:
        """The error budget policy the shop's catalog entry names (``ANNOTATION_BUDGET_POLICY``)."""
        named = self.catalog().component(SERVICE).annotations.get(ANNOTATION_BUDGET_POLICY, "").strip()
        if not named:
            raise InvalidInput(f"metadata.annotations.{ANNOTATION_BUDGET_POLICY}",
                               "names no error budget policy file", source=str(self.path(f"catalog/{SERVICE}.yaml")))
        return self.path(named)

    def catalog(self) -> catalogs.Catalog:
        """The workspace's catalog, relative links resolved in the workspace. Raises what ``catalogs.load`` does."""
        return catalogs.load(self.path("catalog"), root=self.root)

    def rotation(self) -> oncall.Rotation:
        """The team's rotation. Raises what ``oncall.load`` does."""
        return oncall.load(self.rotation_file)

    def scorecard(self, *, config: Config | None = None) -> Scorecard:
        """The shop's scorecard against the running sandbox and this folder."""
        return scorecard(SERVICE, sources=self.sources, config=config)

    def write_entry(self, text: str, name: str = STUBBED) -> catalogs.Catalog:
        """Save ``text`` as the catalog entry ``catalog/<name>.yaml`` and return the catalog read with it.

        The whole catalog is read with the new entry in place; when that fails, or the file does not describe the
        Component ``name``, the earlier entry is put back and InvalidInput names the file, the entity and the field.
        """
        path = self.path(f"catalog/{name}.yaml")
        before = path.read_bytes() if path.is_file() else None
        write_atomically(path, text, mode=0o644)
        try:
            book = self.catalog()
            if not any(c.name == name for c in book.components):
                raise InvalidInput("metadata.name", f"describes no Component {name!r}: keep kind: Component and "
                                                    f"metadata.name: {name}", source=str(path))
            return book
        except InvalidInput:
            if before is None:
                path.unlink()
            else:
                write_atomically(path, before, mode=0o644)
            raise

    def write_rotation(self, text: str) -> oncall.Rotation:
        """Save ``text`` as the team's rotation, once it reads as one. Raises what ``oncall.parse`` does, and then
        leaves the file as it was."""
        rotation = oncall.parse(text, source=str(self.rotation_file), team=TEAM)
        write_atomically(self.rotation_file, text, mode=0o644)
        return rotation

    def write_policy(self, text: str) -> Path:
        """Save ``text`` as the shop's error budget policy (the file its catalog entry names); returns its path.
        Raises InvalidInput for an empty text."""
        if not text.strip():
            raise InvalidInput("policy", "is empty: write the policy's sections in Markdown")
        path = self.policy_file
        write_atomically(path, text, mode=0o644)
        return path

    def write_review(self, text: str, rules: review.Rules | None = None) -> review.Review:
        """Save ``text`` as the release's readiness review once it reads as one, and return it read against its
        class (``rules``: the kit's template and classes by default). Raises what ``review.check`` does, and then
        leaves the file as it was."""
        found = review.check(text, rules or review.load_rules(), str(self.review_file))
        write_atomically(self.review_file, text, mode=0o644)
        return found


def _location(config: Config | None) -> Path:
    return (config or Config.from_env()).work / LAB / FOLDER


def current(config: Config | None = None) -> Workspace:
    """The learner's workspace as it is (``config``: whose working folder; default the environment's)."""
    return Workspace(_location(config))


def prepare(config: Config | None = None) -> Workspace:
    """Put the workspace in the state the lab starts from (see the module's docstring), whatever was there;
    returns it. Everything in the folder is replaced: it holds nothing but what the lab's cells wrote."""
    root = _location(config)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for name in _COPIED:
        shutil.copytree(CONTENT.root / name, root / name)
    workspace = Workspace(root)
    policy = workspace.policy_file
    policy.unlink()
    (root / "catalog" / f"{STUBBED}.yaml").write_text(stub((CONTENT.catalog / f"{STUBBED}.yaml").read_text("utf-8")),
                                                     encoding="utf-8")
    (root / "oncall").mkdir()
    shutil.copyfile(_BROKEN_ROTATION, workspace.rotation_file)
    (root / "readiness").mkdir()
    for name in (review.TEMPLATE, review.CLASSES):
        shutil.copyfile(CONTENT.readiness / name, root / "readiness" / name)
    shutil.copyfile(_DRAFT_REVIEW, workspace.review_file)
    return workspace
