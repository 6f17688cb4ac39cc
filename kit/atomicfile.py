"""Replacing a file all at once: readers see the old contents or the new, never half of them; and one
read-change-write of such files at a time."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def folder_locked(folder: Path, refused: Callable[[OSError], Exception]) -> Iterator[None]:
    """Hold an exclusive lock (flock) on ``folder``, made if missing, for one read-change-write of its files by
    any process or thread. The lock is on the folder itself, so no lock file is left beside the files.
    When the folder cannot be made or opened, raises ``refused(error)``, a message the caller words.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY)
    except OSError as error:
        raise refused(error) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
