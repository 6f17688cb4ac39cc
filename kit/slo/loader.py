"""Loading SLO specs: the file, YAML text or mapping read once, then read as OpenSLO v1 (``kit.slo.openslo``) or
in the kit's own format (``kit.slo.spec``), whichever it is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import yamldocs
from ..errors import InvalidInput
from . import openslo
from .spec import SLOSpec, kit_specs

__all__ = ["load_specs", "load_spec"]


def _specs(documents: Sequence[yamldocs.Document]) -> list[SLOSpec]:
    if openslo.is_openslo(documents):
        return openslo.to_specs(documents)
    return kit_specs(documents)


def load_specs(source: str | Path | Mapping[str, Any]) -> list[SLOSpec]:
    """Every SLO in a spec (file path, YAML text or mapping): the kit's format holds one; an OpenSLO v1 file
    (see ``kit.slo.openslo``) gives one per objective of each SLO. InvalidInput names the file, the document and the
    field."""
    return _specs(yamldocs.read(source))


def load_spec(source: str | Path | Mapping[str, Any]) -> SLOSpec:
    """The one SLO of a spec (file path, YAML text or mapping) in the kit's format or as OpenSLO v1.

    Raises InvalidInput naming the file, the document and the field; also when the spec holds several SLOs
    (several OpenSLO objectives or SLO documents), naming them: ``load_specs`` returns them all.
    """
    documents = yamldocs.read(source)
    specs = _specs(documents)
    if len(specs) != 1:
        names = ", ".join(spec.name for spec in specs)
        raise InvalidInput("", f"holds {len(specs)} SLOs ({names}); this needs exactly one: keep one SLO with one "
                               "objective per file (kit.slo.load_specs reads them all)", source=documents[0].file)
    return specs[0]
