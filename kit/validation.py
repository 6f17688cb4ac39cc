"""Documents people write (specs, scenarios, settings, fault parameters) validated by pydantic, at one edge.

A model declares its fields and their constraints; ``validated`` runs it and turns the first problem
pydantic finds into the kit's ``InvalidInput``, whose field is the problem's path in the document
(``inject[0].params.ratio``) and whose problem is pydantic's message in the kit's words. Everything
after this edge works with the validated model or the frozen dataclass built from it, never a raw dict.

An unknown field is reported before anything else, with the fields allowed in its place: a misspelt key
also leaves its intended field missing, and the misspelling is the mistake to name. A missing field's
``description`` (``Field(description="e.g. 28d")``) is shown with it as a hint. A model validator that
checks one of its fields against another raises ``InvalidInput(field, problem)`` with that field's name
relative to the model, and the problem is reported at that field.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import InvalidInput

__all__ = ["Document", "field_path", "validated"]

M = TypeVar("M", bound=BaseModel)


class Document(BaseModel):
    """Base of the kit's document models: unknown fields are refused (a typo must not pass as a default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def field_path(location: Sequence[str | int], prefix: str = "") -> str:
    """``("inject", 0, "params", "ratio")`` → ``inject[0].params.ratio``, after ``prefix`` when given."""
    path = prefix
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _unwrap(kind: Any) -> Any:
    """``kind`` without ``Annotated`` metadata and without ``None`` as one of its choices."""
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin in (Union, types.UnionType):
            choices = [arg for arg in get_args(kind) if arg is not type(None)]
            if len(choices) != 1:
                return kind
            kind = choices[0]
        else:
            return kind


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _model_at(model: type[BaseModel], location: Sequence[str | int]) -> type[BaseModel] | None:
    """The model that sits at ``location`` inside ``model``; None when the path leaves models, lists and
    mappings (a union of several models, say)."""
    kind: Any = model
    for part in location:
        kind = _unwrap(kind)
        origin = get_origin(kind)
        if _is_model(kind) and isinstance(part, str) and part in kind.model_fields:
            kind = kind.model_fields[part].annotation
        elif isinstance(part, int) and origin in (list, tuple, Sequence):
            kind = get_args(kind)[0]
        elif isinstance(part, str) and origin in (dict, Mapping):
            kind = get_args(kind)[1]
        else:
            return None
    kind = _unwrap(kind)
    return kind if _is_model(kind) else None


def _problem(error: dict[str, Any], model: type[BaseModel]) -> str:
    kind, location = error["type"], error["loc"]
    parent = _model_at(model, location[:-1]) if location else None
    if kind == "missing":
        info = parent.model_fields.get(str(location[-1])) if parent else None
        return "is required" + (f" ({info.description})" if info and info.description else "")
    if kind == "extra_forbidden":
        allowed = ", ".join(info.alias or name for name, info in parent.model_fields.items()) if parent else ""
        return "is not a known field" + (f"; allowed here: {allowed}" if allowed else "")
    if kind in ("model_type", "dict_type"):  # pydantic's words name the model's class, which means nothing here
        return f"must be a mapping of keys to values, got {type(error['input']).__name__}"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix):]
    shown = error.get("input")
    got = "" if isinstance(shown, (dict, list)) or shown is None else f" (got {_shown(shown)})"
    return message[:1].lower() + message[1:] + got


def _shown(value: Any) -> str:
    """``value`` for a message, cut short: a refused document (a request body) may be megabytes long."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _below(path: str, field: str) -> str:
    """``field`` (``total``, ``[0].isRolling``) under ``path``."""
    if not field or not path:
        return path or field
    return path + field if field.startswith("[") else f"{path}.{field}"


def validated(model: type[M], data: Any, *, source: str = "", prefix: str = "",
              error: Callable[..., InvalidInput] = InvalidInput) -> M:
    """``model`` validated from ``data``; raises ``error`` (InvalidInput or a subclass) at the first problem.

    ``prefix`` is written before the field path (the document's place in a larger one); ``source`` is where
    the document was read from, as InvalidInput takes it. A validator's own ValueError message reaches the
    person unchanged, so write it as the problem (``must be between 0 and 1``); an InvalidInput raised by a
    validator names a field below the one validated (see the module's docstring). Unknown fields come first.
    """
    try:
        return model.model_validate(data)
    except ValidationError as problems:
        found = problems.errors()
        unknown = [problem for problem in found if problem["type"] == "extra_forbidden"]
        first = min(unknown, key=lambda problem: len(problem["loc"])) if unknown else found[0]
        path = field_path(first["loc"], prefix) or prefix
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, InvalidInput):
            raise error(_below(path, cause.field), cause.problem, source=source) from None
        raise error(path, _problem(first, model), source=source) from None
