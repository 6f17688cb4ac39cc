"""YAML input files read into documents that know where they came from.

A spec file may hold several YAML documents (separated by ``---``). Each one
is returned with its file name and position, so that an error found later in
its content can say ``file (document 2): field: problem``. A file that is not
YAML at all fails here, in one line with ``file:line:column`` and the parser's
own short description of the problem, never a multi-line parser dump.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import InvalidInput

__all__ = ["Document", "read", "syntax_error"]

TEXT = "<text>"
"""The name given to YAML passed as a string rather than read from a file."""


@dataclass(frozen=True)
class Document:
    """One YAML document: its parsed ``data``, the ``file`` it came from ("" for a mapping or text given directly),
    its 1-based ``index`` and how many documents the file holds (``count``)."""

    data: Any
    file: str = ""
    index: int = 1
    count: int = 1

    @property
    def where(self) -> str:
        """``file``, plus ``(document N)`` when the file holds more than one document."""
        if self.count <= 1:
            return self.file
        return f"{self.file} (document {self.index})".strip()

    @contextmanager
    def located(self, prefix: str = "") -> Iterator[None]:
        """Re-raise an InvalidInput from the block as said of this document; ``prefix`` goes before its field
        (``[2].`` for the third item of a document that is a list). An error that already names its source
        (it was found in another document) passes unchanged."""
        try:
            yield
        except InvalidInput as error:
            if error.source:
                raise
            raise InvalidInput(f"{prefix}{error.field}" if error.field else prefix.rstrip("."),
                               error.problem, source=self.where) from None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def syntax_error(error: yaml.YAMLError, name: str) -> InvalidInput:
    """``name:line:column: not valid YAML: problem`` from PyYAML's error, without its source excerpt."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        problem = _one_line(error.problem or "syntax error")
        if error.context:
            problem += f" ({_one_line(error.context)}"
            if error.context_mark is not None and error.context_mark.line != mark.line:
                problem += f" that starts at line {error.context_mark.line + 1}"
            problem += ")"
        return InvalidInput("", f"not valid YAML: {problem}", source=f"{name}:{mark.line + 1}:{mark.column + 1}")
    return InvalidInput("", f"not valid YAML: {_one_line(str(error))}", source=name)


def read(source: str | Path | Mapping[str, Any]) -> list[Document]:
    """The documents of a file path, of YAML text, or a mapping given as it is (one document).

    A ``str`` is taken as a path when it is one line ending in ``.yml`` or ``.yaml``.
    Raises InvalidInput: ``path`` when the file cannot be read; ``file:line:column: not valid YAML: ...``
    for a syntax error; ``file: is empty`` when no document has content. Documents are numbered by their
    position in the file, empty ones included.
    """
    if isinstance(source, Mapping):
        return [Document(source)]
    text, name = str(source), TEXT
    if isinstance(source, Path) or ("\n" not in text and text.endswith((".yml", ".yaml"))):
        name = str(source)
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput("path", f"cannot read {source}: {exc.strerror}") from None
    try:
        datas = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise syntax_error(exc, name) from None
    # an empty document (a trailing ``---``, or only comments) holds nothing to check
    kept = [(i, data) for i, data in enumerate(datas) if data is not None]
    if not kept:
        raise InvalidInput("", "is empty: no YAML document in it", source=name)
    file = "" if name == TEXT else name
    return [Document(data, file, i + 1, len(kept)) for i, data in kept]
