"""Replacing a file all at once: readers see the old contents or the new, never half of them."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes | str, *, mode: int | None = None) -> None:
    """Write ``data`` (text is written as UTF-8) to ``path`` through a temporary file beside it, synced, then
    renamed over ``path``. The file is readable by this user only (mkstemp's mode: right for secrets, and the
    kit's state files need no other reader) unless ``mode`` (permission bits, e.g. a notebook's own) is given.
    Raises OSError; on any error ``path`` is as it was and no temporary file is left.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
