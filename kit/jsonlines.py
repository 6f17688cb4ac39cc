"""Append-only JSON-lines files: the mob's rotation log, the deploy log, recorded incidents.

A record is one line. Appends are whole lines in one locked, synced write, so concurrent writers (processes or
threads) never interleave; a crash can only leave an unfinished last line, which readers skip and the next
writer cuts off instead of gluing a new record to it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import InvalidInput, KitError

_TAIL = 65536
"""Bytes read back from the end to find an unfinished last line: longer than any record the kit writes."""


def append(path: Path, records: Iterable[Any], *, hint: str = "") -> int:
    """Append ``records`` (JSON values) to ``path`` as lines, creating it and its folder; their count.

    Raises KitError naming the file (and ``hint``, what the person can do) when it cannot be written.
    """
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    if not text:
        return 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            size = handle.seek(0, os.SEEK_END)
            if size:
                handle.seek(max(0, size - _TAIL))
                tail = handle.read()
                if not tail.endswith(b"\n"):
                    handle.truncate(size - len(tail) + tail.rfind(b"\n") + 1)
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise KitError(f"cannot write {path}: {error.strerror or error}" + (f"; {hint}" if hint else "")) from None
    return text.count("\n")


def lines(text: str, source: str) -> Iterator[tuple[str, Any]]:
    """``(where, value)`` for every complete, non-blank line of ``text``; ``where`` is ``source:LINE``.

    The piece after the last newline is a write under way and is left out. Raises InvalidInput (field "line",
    with ``where``) for a line that is not JSON.
    """
    for number, line in enumerate(text.split("\n")[:-1], 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            yield where, json.loads(line)
        except ValueError as error:
            raise InvalidInput("line", f"is not JSON ({error.msg} at column {error.colno})", source=where) from None


def read_text(path: Path) -> str:
    """The file's text, "" when there is none; KitError naming it when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as error:
        raise KitError(f"cannot read {path}: {error}") from None


def read(path: Path) -> list[tuple[str, Any]]:
    """``(where, value)`` for every complete line of ``path`` ([] when there is no file); see ``lines``."""
    return list(lines(read_text(path), str(path)))
