"""The service catalog: Backstage entity descriptors read, validated and checked against what the metrics show.

The files are Backstage's own format (``apiVersion: backstage.io/v1alpha1``; the descriptor format and entity
references: https://backstage.io/docs/features/software-catalog/descriptor-format and .../references), so the
same ``catalog/`` folder can be registered in a real Backstage. This module reads the kinds a service's
ownership needs: Component, API, System, Group and User. A file may hold several entities (YAML documents
separated by ``---``). Every problem in a file is an ``InvalidInput`` naming the file, the entity and the field
(``catalog/payments.yaml: Component payments: spec.owner: is required``). ``spec`` is stricter than Backstage
on one point: an unknown spec field is refused, since a misspelt ``dependsOn`` would otherwise drop a
dependency without a word.

What a loaded catalog is checked for comes back as ``Finding`` values, each with the field at fault and a
one-line fix: references to entities the catalog does not hold (``dangling_refs``), the fields an operable
service needs (``completeness``), and the declared dependencies against the calls Prometheus saw
(``observed_calls``, then the pure ``compare_dependencies``).

The kit's annotations (``ANNOTATION_*``) tell checks where a component's operations live: its Prometheus job,
its SLO specs in ``slos/``, its runbook folder and its on-call rotation file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints

from .. import yamldocs
from ..config import CONTENT, Config
from ..errors import InvalidInput
from ..timescale import parse_duration
from ..validation import Document, validated

__all__ = [
    "ANNOTATION_JOB", "ANNOTATION_ROTATION", "ANNOTATION_RUNBOOKS", "ANNOTATION_SLOS", "API_VERSIONS", "CLIENT_METRIC",
    "LIFECYCLES", "Api", "Call", "Catalog", "Component", "Entity", "EntityRef", "Finding", "Group", "Link", "System",
    "User", "check", "compare_dependencies", "completeness", "dangling_refs", "load", "observed_calls", "parse_ref",
]

API_VERSIONS: tuple[str, ...] = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
"""The apiVersions Backstage accepts for the kinds read here."""

LIFECYCLES: tuple[str, ...] = ("experimental", "production", "deprecated")
"""Backstage's well-known lifecycles; Backstage takes any word, a complete entry uses one of these."""

ANNOTATION_JOB = "reliability-dojo/prometheus-job"
"""The ``job`` label of the component's own series in Prometheus (``shop``)."""
ANNOTATION_SLOS = "reliability-dojo/slos"
"""The component's SLOs: names of specs in ``slos/``, separated by commas (``checkout-availability, ...``)."""
ANNOTATION_RUNBOOKS = "reliability-dojo/runbooks"
"""The folder of the component's runbooks, relative to the repository root (``runbooks``)."""
ANNOTATION_ROTATION = "reliability-dojo/rotation"
"""The iCalendar file of the rotation paged for the component, relative to the repository root."""

CLIENT_METRIC = re.compile(r"(?P<callee>[a-zA-Z_:][a-zA-Z0-9_:]*)_client_requests_total")
"""How a service measures its calls to another one: a counter ``<callee job>_client_requests_total`` in the
caller's own job (the shop's ``payments_client_requests_total``). Counted from the caller's side, so a call
that timed out or never reached the callee still counts as a dependency."""

_NAME = r"[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*"
_NAME_RE = re.compile(_NAME)
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
_ANNOTATION_KEY = re.compile(r"(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?" + _NAME)
_DEFAULT_NAMESPACE = "default"

_KINDS = {kind.lower(): kind for kind in ("Component", "API", "System", "Group", "User", "Resource", "Domain",
                                          "Location", "Template")}
"""Backstage's core kinds as it spells them; references may write them in any case."""


@dataclass(frozen=True, eq=False)
class EntityRef:
    """A reference ``kind:namespace/name``. Equal and hashed case-insensitively, as Backstage compares them."""

    kind: str
    namespace: str
    name: str

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind.lower(), self.namespace.lower(), self.name.lower()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EntityRef) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: EntityRef) -> bool:
        return self.key < other.key

    def __str__(self) -> str:
        return f"{self.kind.lower()}:{self.namespace}/{self.name}"


def parse_ref(text: str, *, default_kind: str | None = None, default_namespace: str = _DEFAULT_NAMESPACE,
              kinds: Sequence[str] = ()) -> EntityRef:
    """``[kind:][namespace/]name`` as Backstage reads it, with the defaults of the field it was written in.

    ``default_kind`` None: the kind must be written (``spec.dependsOn``). ``kinds``: the kinds the field may
    name (any when empty). Raises InvalidInput (field "") saying what is wrong and how to write it.
    """
    colon, slash = text.find(":"), text.find("/")
    if slash != -1 and slash < colon:
        colon = -1  # a colon after the namespace belongs to the name, which the name rules then refuse
    kind = text[:colon] if colon != -1 else default_kind
    rest = text[colon + 1:]
    slash = rest.find("/")
    namespace, name = (rest[:slash], rest[slash + 1:]) if slash != -1 else (default_namespace, rest)
    allowed = " or ".join(k.lower() for k in kinds)
    if kind is None:
        raise InvalidInput("", f"{text!r} has no kind; write it as kind:name, the kind {allowed or 'of the entity'} "
                               f"(e.g. {(kinds[0] if kinds else 'component').lower()}:{name or 'name'})")
    canonical = _KINDS.get(kind.lower(), kind)
    if kinds and canonical not in kinds:
        raise InvalidInput("", f"{text!r} names a {canonical}; this field takes a {allowed}")
    if not _NAMESPACE_RE.fullmatch(namespace) or len(namespace) > 63:
        raise InvalidInput("", f"{text!r}: namespace {namespace!r} must be letters and digits separated by '-', "
                               "at most 63 characters")
    if not _NAME_RE.fullmatch(name) or len(name) > 63:
        raise InvalidInput("", f"{text!r}: name {name!r} must be letters and digits separated by '-', '_' or '.', "
                               "at most 63 characters")
    return EntityRef(canonical, namespace, name)


@dataclass(frozen=True)
class Link:
    """One of ``metadata.links``: ``url`` (an address, or a path relative to the repository root), ``title``,
    ``type`` (``runbook``, ``dashboard``, …) and ``icon``, each "" when not given."""

    url: str
    title: str = ""
    type: str = ""
    icon: str = ""


@dataclass(frozen=True, kw_only=True)
class Entity:
    """What every kind has: its reference, where it was read (``source``: file, and document when there are
    several) and its metadata. ``annotations`` maps each key to its text."""

    ref: EntityRef
    source: str
    title: str = ""
    description: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()

    @property
    def name(self) -> str:
        return self.ref.name

    def references(self) -> Iterable[tuple[str, EntityRef]]:
        """(field, reference) for every reference in ``spec`` (``spec.dependsOn[0]``)."""
        return ()


def _listed(name: str, refs: Sequence[EntityRef]) -> Iterable[tuple[str, EntityRef]]:
    return ((f"spec.{name}[{i}]", ref) for i, ref in enumerate(refs))


def _optional(name: str, ref: EntityRef | None) -> Iterable[tuple[str, EntityRef]]:
    return () if ref is None else ((f"spec.{name}", ref),)


@dataclass(frozen=True, kw_only=True)
class Component(Entity):
    """A service (or website, library): ``spec`` of Backstage's Component, references resolved."""

    type: str
    lifecycle: str
    owner: EntityRef
    system: EntityRef | None = None
    subcomponent_of: EntityRef | None = None
    provides_apis: tuple[EntityRef, ...] = ()
    consumes_apis: tuple[EntityRef, ...] = ()
    depends_on: tuple[EntityRef, ...] = ()
    dependency_of: tuple[EntityRef, ...] = ()

    @property
    def prometheus_job(self) -> str | None:
        """The ``job`` of its series (``ANNOTATION_JOB``); None when not annotated."""
        return self.annotations.get(ANNOTATION_JOB, "").strip() or None

    @property
    def slos(self) -> tuple[str, ...]:
        """Names of its SLO specs in ``slos/`` (``ANNOTATION_SLOS``)."""
        return tuple(n.strip() for n in self.annotations.get(ANNOTATION_SLOS, "").split(",") if n.strip())

    @property
    def runbooks(self) -> str | None:
        """Its runbook folder (``ANNOTATION_RUNBOOKS``), relative to the repository root."""
        return self.annotations.get(ANNOTATION_RUNBOOKS, "").strip() or None

    @property
    def rotation(self) -> str | None:
        """Its on-call rotation file (``ANNOTATION_ROTATION``), relative to the repository root."""
        return self.annotations.get(ANNOTATION_ROTATION, "").strip() or None

    @property
    def runbook_links(self) -> tuple[Link, ...]:
        return tuple(link for link in self.links if link.type == "runbook")

    def references(self) -> Iterable[tuple[str, EntityRef]]:
        yield "spec.owner", self.owner
        yield from _optional("system", self.system)
        yield from _optional("subcomponentOf", self.subcomponent_of)
        yield from _listed("providesApis", self.provides_apis)
        yield from _listed("consumesApis", self.consumes_apis)
        yield from _listed("dependsOn", self.depends_on)
        yield from _listed("dependencyOf", self.dependency_of)


@dataclass(frozen=True, kw_only=True)
class Api(Entity):
    """An interface a component provides: Backstage's API kind (``definition`` is its text, e.g. OpenAPI)."""

    type: str
    lifecycle: str
    owner: EntityRef
    definition: str
    system: EntityRef | None = None

    def references(self) -> Iterable[tuple[str, EntityRef]]:
        yield "spec.owner", self.owner
        yield from _optional("system", self.system)


@dataclass(frozen=True, kw_only=True)
class System(Entity):
    """Components that make one product together: Backstage's System kind."""

    owner: EntityRef
    domain: EntityRef | None = None
    type: str = ""

    def references(self) -> Iterable[tuple[str, EntityRef]]:
        yield "spec.owner", self.owner
        yield from _optional("domain", self.domain)


@dataclass(frozen=True, kw_only=True)
class Group(Entity):
    """A team (``type`` team) or another unit of people: Backstage's Group kind, its members as User refs."""

    type: str
    children: tuple[EntityRef, ...]
    members: tuple[EntityRef, ...] = ()
    parent: EntityRef | None = None
    display_name: str = ""
    email: str = ""

    def references(self) -> Iterable[tuple[str, EntityRef]]:
        yield from _optional("parent", self.parent)
        yield from _listed("children", self.children)
        yield from _listed("members", self.members)


@dataclass(frozen=True, kw_only=True)
class User(Entity):
    """A person: Backstage's User kind, with the groups they are a direct member of."""

    member_of: tuple[EntityRef, ...]
    display_name: str = ""
    email: str = ""

    def references(self) -> Iterable[tuple[str, EntityRef]]:
        yield from _listed("memberOf", self.member_of)


# ---- the documents as written, validated at the edge (kit.validation) ------------------------------------------

def _rule(pattern: re.Pattern[str], longest: int, said: str):
    def checked(text: str) -> str:
        if not pattern.fullmatch(text) or len(text) > longest:
            raise ValueError(f"{text!r} {said}")
        return text
    return AfterValidator(checked)


_Text = Annotated[str, StringConstraints(min_length=1)]
_Name = Annotated[str, _rule(_NAME_RE, 63, "must be letters and digits separated by '-', '_' or '.', at most 63 "
                                           "characters")]
_Namespace = Annotated[str, _rule(_NAMESPACE_RE, 63, "must be letters and digits separated by '-', at most 63 "
                                                     "characters")]
_Key = Annotated[str, _rule(_ANNOTATION_KEY, 317, "is not a key: an optional lowercase domain and '/', then letters "
                                                  "and digits separated by '-', '_' or '.'")]


class _Link(Document):
    url: _Text
    title: str = ""
    icon: str = ""
    type: str = ""


class _Metadata(Document):
    # Backstage lets any other field sit in metadata ("Extending the model"); only its reserved ones are checked.
    model_config = ConfigDict(extra="allow", frozen=True)

    name: _Name = Field(description="letters and digits separated by '-', '_' or '.'")
    namespace: _Namespace = _DEFAULT_NAMESPACE
    title: str = ""
    description: str = ""
    labels: dict[_Key, str] = {}
    annotations: dict[_Key, str] = {}
    tags: list[str] = []
    links: list[_Link] = []


class _Profile(Document):
    displayName: str = ""
    email: str = ""
    picture: str = ""


class _ComponentSpec(Document):
    type: _Text = Field(description="e.g. service")
    lifecycle: _Text = Field(description="one of " + ", ".join(LIFECYCLES))
    owner: _Text = Field(description="the owning team, e.g. group:shop-team")
    system: str | None = None
    subcomponentOf: str | None = None
    providesApis: list[str] = []
    consumesApis: list[str] = []
    dependsOn: list[str] = []
    dependencyOf: list[str] = []


class _ApiSpec(Document):
    type: _Text = Field(description="e.g. openapi")
    lifecycle: _Text = Field(description="one of " + ", ".join(LIFECYCLES))
    owner: _Text = Field(description="the owning team, e.g. group:shop-team")
    definition: _Text = Field(description="the API's definition, e.g. its OpenAPI document")
    system: str | None = None


class _SystemSpec(Document):
    owner: _Text = Field(description="the owning team, e.g. group:shop-team")
    domain: str | None = None
    type: str = ""


class _GroupSpec(Document):
    type: _Text = Field(description="e.g. team")
    children: list[str] = Field(description="the child groups; [] when there are none")
    members: list[str] = []
    parent: str | None = None
    profile: _Profile = _Profile()


class _UserSpec(Document):
    memberOf: list[str] = Field(description="the groups the user is a direct member of; [] when none")
    profile: _Profile = _Profile()


def _envelope(spec: type[Document]) -> type[Document]:
    class Envelope(Document):
        apiVersion: Literal[API_VERSIONS]
        kind: str
        metadata: _Metadata
        spec: spec  # type: ignore[valid-type]
    return Envelope


_SPECS: dict[str, type[Document]] = {
    "Component": _envelope(_ComponentSpec), "API": _envelope(_ApiSpec), "System": _envelope(_SystemSpec),
    "Group": _envelope(_GroupSpec), "User": _envelope(_UserSpec),
}

_OWNER = ("Group", ("Group", "User"))
_REFS: dict[str, dict[str, tuple[str | None, tuple[str, ...]]]] = {
    "Component": {"owner": _OWNER, "system": ("System", ("System",)), "subcomponentOf": ("Component", ("Component",)),
                  "providesApis": ("API", ("API",)), "consumesApis": ("API", ("API",)),
                  "dependsOn": (None, ("Component", "Resource")), "dependencyOf": (None, ("Component", "Resource"))},
    "API": {"owner": _OWNER, "system": ("System", ("System",))},
    "System": {"owner": _OWNER, "domain": ("Domain", ("Domain",))},
    "Group": {"parent": ("Group", ("Group",)), "children": ("Group", ("Group",)), "members": ("User", ("User",))},
    "User": {"memberOf": ("Group", ("Group",))},
}
"""Per kind, per reference field of its spec: the kind a reference without one means, and the kinds allowed
(Backstage's descriptor format; ``dependsOn`` has no default, its references name their kind)."""


def _entity(document: yamldocs.Document) -> Entity:
    data = document.data
    if not isinstance(data, Mapping):
        raise InvalidInput("", "must be a mapping with apiVersion, kind, metadata and spec, got "
                               f"{type(data).__name__}", source=document.where)
    kind = data.get("kind")
    if kind not in _SPECS:
        known = ", ".join(_SPECS)
        problem = "is required" if kind is None else f"{kind!r} is not a kind this kit reads"
        raise InvalidInput("kind", f"{problem}; one of {known}", source=document.where)
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    where = f"{document.where}: {kind} {name}" if isinstance(name, str) else f"{document.where}: {kind}"
    model = validated(_SPECS[kind], data, source=where)
    meta, spec = model.metadata, model.spec
    refs: dict[str, EntityRef | tuple[EntityRef, ...] | None] = {}
    for key, (default_kind, kinds) in _REFS[kind].items():
        value = getattr(spec, key)

        def parsed(text: str, at: str) -> EntityRef:
            try:
                return parse_ref(text, default_kind=default_kind, default_namespace=meta.namespace, kinds=kinds)
            except InvalidInput as error:
                raise InvalidInput(at, error.problem, source=where) from None

        if isinstance(value, list):
            refs[key] = tuple(parsed(text, f"spec.{key}[{i}]") for i, text in enumerate(value))
        else:
            refs[key] = None if value is None else parsed(value, f"spec.{key}")
    common = dict(
        ref=EntityRef(kind, meta.namespace, meta.name), source=document.where, title=meta.title,
        description=meta.description.strip(), annotations=dict(meta.annotations), labels=dict(meta.labels),
        tags=tuple(meta.tags), links=tuple(Link(k.url, k.title, k.type, k.icon) for k in meta.links),
    )
    if kind == "Component":
        return Component(**common, type=spec.type, lifecycle=spec.lifecycle, owner=refs["owner"],
                         system=refs["system"], subcomponent_of=refs["subcomponentOf"],
                         provides_apis=refs["providesApis"], consumes_apis=refs["consumesApis"],
                         depends_on=refs["dependsOn"], dependency_of=refs["dependencyOf"])
    if kind == "API":
        return Api(**common, type=spec.type, lifecycle=spec.lifecycle, owner=refs["owner"],
                   definition=spec.definition, system=refs["system"])
    if kind == "System":
        return System(**common, owner=refs["owner"], domain=refs["domain"], type=spec.type)
    if kind == "Group":
        return Group(**common, type=spec.type, children=refs["children"], members=refs["members"],
                     parent=refs["parent"], display_name=spec.profile.displayName, email=spec.profile.email)
    return User(**common, member_of=refs["memberOf"], display_name=spec.profile.displayName,
                email=spec.profile.email)


@dataclass(frozen=True)
class Catalog:
    """Every entity read, in file order. ``root`` is the folder relative links and annotations are read from
    (the repository root)."""

    entities: tuple[Entity, ...]
    root: Path = CONTENT.root

    def get(self, ref: EntityRef) -> Entity | None:
        return next((e for e in self.entities if e.ref == ref), None)

    @property
    def components(self) -> tuple[Component, ...]:
        return tuple(e for e in self.entities if isinstance(e, Component))

    @property
    def groups(self) -> tuple[Group, ...]:
        return tuple(e for e in self.entities if isinstance(e, Group))

    @property
    def systems(self) -> tuple[System, ...]:
        return tuple(e for e in self.entities if isinstance(e, System))

    @property
    def users(self) -> tuple[User, ...]:
        return tuple(e for e in self.entities if isinstance(e, User))

    def component(self, name: str) -> Component:
        """The component called ``name`` (any namespace); InvalidInput naming the ones there are otherwise."""
        found = next((c for c in self.components if c.name.lower() == name.lower()), None)
        if found is None:
            raise InvalidInput("component", f"no component {name!r} in the catalog; there are: "
                                            + (", ".join(c.name for c in self.components) or "none"))
        return found

    def by_job(self) -> dict[str, Component]:
        """Each Prometheus job named by a component's ``ANNOTATION_JOB``, with that component."""
        return {c.prometheus_job: c for c in self.components if c.prometheus_job}


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load(path: str | Path | None = None, *, root: str | Path | None = None) -> Catalog:
    """The catalog in one YAML file, or in every ``*.yaml``/``*.yml`` file under a folder (default ``catalog/``).

    ``root``: the folder relative runbook links resolve against; by default the one above the catalog folder (or
    above the folder of a single file), which for ``catalog/`` is the repository root.
    Raises InvalidInput naming the file, the entity and the field of the first problem: unreadable or empty
    file, not YAML, an unknown kind, a missing or malformed field, a malformed reference, two entities with the
    same kind, namespace and name (compared without case, as Backstage does).
    """
    folder = Path(path) if path is not None else CONTENT.catalog
    if folder.is_dir():
        files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise InvalidInput("path", f"{_shown(folder)} holds no .yaml or .yml file")
        base = folder
    elif folder.exists():
        files, base = [folder], folder.parent
    else:
        raise InvalidInput("path", f"{_shown(folder)} does not exist")
    seen: dict[EntityRef, Entity] = {}
    for file in files:
        for document in yamldocs.read(Path(_shown(file))):
            entity = _entity(document)
            if entity.ref in seen:
                raise InvalidInput("metadata.name", f"{entity.ref} is defined twice, also in {seen[entity.ref].source}",
                                   source=f"{document.where}: {entity.ref.kind} {entity.name}")
            seen[entity.ref] = entity
    return Catalog(tuple(seen.values()), Path(root) if root is not None else base.resolve().parent)


# ---- findings ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, order=True)
class Finding:
    """One thing to fix in the catalog: where (``source`` file, ``entity`` ref, ``field``), what is wrong
    (``problem``) and what to do (``fix``, one line)."""

    source: str
    entity: str
    field: str
    problem: str
    fix: str

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.entity, self.field) if part)
        return f"{where}: {self.problem}. Fix: {self.fix}"


def _finding(entity: Entity, at: str, problem: str, fix: str) -> Finding:
    return Finding(entity.source, str(entity.ref), at, problem, fix)


def _undefined(entity: Entity, at: str, ref: EntityRef) -> Finding:
    return _finding(entity, at, f"names {ref}, which the catalog does not define",
                    f"add a {ref.kind} {ref.name} to the catalog, or correct {at}")


def dangling_refs(catalog: Catalog) -> list[Finding]:
    """A finding for every reference to an entity the catalog does not hold (an owner naming a Group that does not
    exist, a ``dependsOn`` naming an unknown component), in file order."""
    return [_undefined(entity, at, ref) for entity in catalog.entities for at, ref in entity.references()
            if catalog.get(ref) is None]


@dataclass(frozen=True)
class Call:
    """Calls seen in Prometheus: the service of job ``caller`` called the one of job ``callee`` ``requests``
    times over the window (an ``increase``, so fractional; every outcome counts, timeouts included)."""

    caller: str
    callee: str
    requests: float


def completeness(component: Component, catalog: Catalog, calls: Sequence[Call] | None = None) -> list[Finding]:
    """What ``component``'s entry lacks for a scorecard: a description, an owner that is a team in the catalog,
    a well-known lifecycle, a system in the catalog, a runbook link (a relative one must exist under
    ``catalog.root``), the Prometheus job annotation, and, when ``calls`` are given, every dependency the calls
    show declared in ``spec.dependsOn``. Pure: reads nothing but the files a relative runbook link names."""
    found: list[Finding] = []
    if not component.description:
        found.append(_finding(component, "metadata.description", "is empty",
                              f"add one line saying what {component.name} does for its users"))
    teams = ", ".join(g.name for g in catalog.groups) or "none yet"
    if component.owner.kind != "Group":
        found.append(_finding(component, "spec.owner", f"is a person ({component.owner}), not a team",
                              f"set spec.owner to the group:NAME of the team paged for it (groups: {teams})"))
    elif catalog.get(component.owner) is None:
        found.append(_undefined(component, "spec.owner", component.owner))
    if component.lifecycle not in LIFECYCLES:
        found.append(_finding(component, "spec.lifecycle", f"{component.lifecycle!r} is not a well-known lifecycle",
                              "use one of " + ", ".join(LIFECYCLES)))
    if component.system is None:
        systems = ", ".join(s.name for s in catalog.systems) or "none yet"
        found.append(_finding(component, "spec.system", "is not set",
                              f"set spec.system to the System it is part of (systems: {systems})"))
    elif catalog.get(component.system) is None:
        found.append(_undefined(component, "spec.system", component.system))
    found.extend(_runbook_findings(component, catalog.root))
    if component.prometheus_job is None:
        found.append(_finding(component, f"metadata.annotations.{ANNOTATION_JOB}", "is missing",
                              f"add the annotation {ANNOTATION_JOB}: <the job label of its series in Prometheus>"))
    if calls is not None:
        found.extend(f for f in _undeclared(catalog, calls, "") if f.entity == str(component.ref))
    return found


def _runbook_findings(component: Component, root: Path) -> list[Finding]:
    if not component.runbook_links:
        return [_finding(component, "metadata.links", "has no runbook link",
                         "add a link with type: runbook and url: runbooks/<name>.md for its paging alerts")]
    found = []
    for i, link in enumerate(component.links):
        if link.type == "runbook" and "://" not in link.url and not (root / link.url.split("#")[0]).is_file():
            found.append(_finding(component, f"metadata.links[{i}].url", f"{link.url} does not exist",
                                  "point it at a runbook file relative to the repository root (runbooks/<name>.md)"))
    return found


def observed_calls(window: str = "15m", *, config: Config | None = None) -> list[Call]:
    """The calls between services Prometheus saw over the last ``window`` (a duration: ``15m``), from each
    caller's ``CLIENT_METRIC`` counters; only pairs with at least one call, sorted.

    Two queries: the counters' names and jobs (``last_over_time`` keeps ``__name__``, which ``increase`` drops),
    then each counter's increase per job. Raises InvalidInput for a bad ``window``, SandboxNotReady when
    Prometheus does not answer, PromQLError when it refuses a query.
    """
    from .. import prom  # pandas: imported when a live check runs, so `kit --help` stays fast

    parse_duration(window, "window")
    names = prom.query(f'group by (__name__, job) (last_over_time({{__name__=~"{CLIENT_METRIC.pattern}"}}[{window}]))',
                       config=config)
    calls = []
    for metric in sorted(set(names.get("__name__", []))):
        callee = CLIENT_METRIC.fullmatch(metric).group("callee")
        counted = prom.query(f"sum by (job) (increase({metric}[{window}]))", config=config)
        for row in counted.itertuples():
            if row.value > 0:
                calls.append(Call(row.job, callee, float(row.value)))
    return sorted(calls, key=lambda c: (c.caller, c.callee))


def compare_dependencies(catalog: Catalog, calls: Sequence[Call], window: str = "") -> list[Finding]:
    """Declared ``spec.dependsOn`` against the ``calls`` observed (``observed_calls``), matched through each
    component's ``ANNOTATION_JOB``. Findings: a call from or to a job no component claims; a call the caller does
    not declare; a declared dependency on a component with a job that the caller never called over the
    ``window`` (said in the findings). A dependency on a Resource, or on a component without a job, cannot be
    observed this way and is left alone (``completeness`` asks for the job). Pure."""
    return _undeclared(catalog, calls, window) + _unobserved(catalog, calls, window)


def _over(window: str) -> str:
    return f" over the last {window}" if window else ""


def _undeclared(catalog: Catalog, calls: Sequence[Call], window: str) -> list[Finding]:
    """Calls the catalog does not explain: from or to an unclaimed job, or to a component not in dependsOn."""
    jobs = catalog.by_job()
    found: list[Finding] = []
    for call in calls:
        caller, callee = jobs.get(call.caller), jobs.get(call.callee)
        metric = f"{call.callee}_client_requests_total"
        if caller is None:
            found.append(Finding("", f"job {call.caller}", f"metadata.annotations.{ANNOTATION_JOB}",
                                 f"job {call.caller} calls {call.callee} ({metric}) but no component claims the job",
                                 f"add {ANNOTATION_JOB}: {call.caller} to the component that runs as that job"))
        elif callee is None:
            found.append(_finding(caller, "spec.dependsOn",
                                  f"calls job {call.callee} ({metric}){_over(window)}, which no component claims",
                                  f"add a Component with {ANNOTATION_JOB}: {call.callee} and list it in "
                                  "spec.dependsOn"))
        elif callee.ref not in caller.depends_on:
            found.append(_finding(caller, "spec.dependsOn",
                                  f"calls {callee.ref} ({call.requests:.0f} calls{_over(window)}) but does not "
                                  "declare it", f"add component:{callee.name} to spec.dependsOn"))
    return found


def _unobserved(catalog: Catalog, calls: Sequence[Call], window: str) -> list[Finding]:
    """Declared dependencies between two components with jobs that no call shows."""
    called = {(call.caller, call.callee) for call in calls}
    found: list[Finding] = []
    for component in catalog.components:
        for i, ref in enumerate(component.depends_on):
            target = catalog.get(ref)
            if (component.prometheus_job and isinstance(target, Component) and target.prometheus_job
                    and (component.prometheus_job, target.prometheus_job) not in called):
                found.append(_finding(
                    component, f"spec.dependsOn[{i}]", f"declares {ref} but made no call to it{_over(window)}",
                    f"remove it if {component.name} no longer calls {target.name}; if it does, make {component.name} "
                    f"count its calls in {target.prometheus_job}_client_requests_total"))
    return found


def check(catalog: Catalog, calls: Sequence[Call] | None = None, window: str = "") -> list[Finding]:
    """Everything `kit catalog check` reports: dangling references, each component's completeness and, when
    ``calls`` are given, the dependency comparison; each finding once, in file order."""
    found = dangling_refs(catalog)
    for component in catalog.components:
        found.extend(completeness(component, catalog))
    if calls is not None:
        found.extend(compare_dependencies(catalog, calls, window))
    return list(dict.fromkeys(found))
