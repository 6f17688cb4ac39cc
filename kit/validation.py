"""Documents people write (specs, scenarios, settings, fault parameters) validated by pydantic, at one edge.

A model declares its fields and their constraints; ``validated`` runs it and turns the first problem
pydantic finds into the kit's ``InvalidInput``, whose field is the problem's path in the document
(``inject[0].params.ratio``) and whose problem is pydantic's message in the kit's words. Everything
after this edge works with the validated model or the frozen dataclass built from it, never a raw dict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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


def _problem(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
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


def validated(model: type[M], data: Any, *, source: str = "", prefix: str = "",
              error: Callable[..., InvalidInput] = InvalidInput) -> M:
    """``model`` validated from ``data``; raises ``error`` (InvalidInput or a subclass) at the first problem.

    ``prefix`` is written before the field path (the document's place in a larger one); ``source`` is where
    the document was read from, as InvalidInput takes it. A validator's own ValueError message reaches the
    person unchanged, so write it as the problem (``must be between 0 and 1``). When a field is unknown, that
    is the problem named, before any other.
    """
    try:
        return model.model_validate(data)
    except ValidationError as problems:
        errors = problems.errors()
        # A misspelt field is also a missing one; naming the misspelling says what to fix.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raise error(field_path(first["loc"], prefix) or prefix, _problem(first), source=source) from None
