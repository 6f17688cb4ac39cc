"""The sandbox Prometheus's TSDB: new blocks opened without a restart, and its admin API.

Prometheus opens the blocks in its data folder when it starts, and again whenever its TSDB reloads them from
disk. The admin API's ``clean_tombstones`` does that reload once it has rewritten a block that held deleted
series (Prometheus 2.x, ``tsdb.DB.CleanTombstones``). So a block that holds only a *reload marker* series makes
the next load cheap: move the new blocks in, delete the marker, clean the tombstones, and the TSDB drops the
marker's block and opens the new ones. A restart would cost a gap of about 6 s in the scrapes (Prometheus 2.42
takes up its targets about 5 s after it starts).

Every load brings a marker block of its own for the next one, and a sandbox whose Prometheus starts on an empty
data folder gets the first (``seed``). A Prometheus that does not reload this way, or a data folder without a
marker, is for the caller to notice (the blocks' data is not there) and to restart Prometheus instead.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from .. import localhttp
from ..config import Config
from ..errors import KitError, ProcessFailed, SandboxNotReady

__all__ = ["RELOAD_MARKER", "admin", "open_blocks", "seed"]

RELOAD_MARKER = "kit_tsdb_reload_marker"
"""The marker series' name; its ``load`` label tells one marker block from the next."""


def admin(config: Config, path: str, params: Sequence[tuple[str, str]] = ()) -> None:
    """POST to the TSDB admin API (``delete_series``, ``clean_tombstones``). Raises SandboxNotReady when
    Prometheus does not answer, KitError when it refuses."""
    url = f"{config.url('prometheus')}/api/v1/admin/tsdb/{path}"
    try:
        response = localhttp.client().post(url, params=list(params), timeout=120.0)
    except httpx.HTTPError as exc:
        raise SandboxNotReady(f"Prometheus is not reachable at {config.url('prometheus')} ({exc}); run `kit up`") from None
    if response.status_code >= 300:
        raise KitError(f"Prometheus refused {path}: HTTP {response.status_code} {response.text.strip()}")


def _marker_block(work: Path, load: str, at: float, promtool: str) -> Path:
    """A block holding one sample of the marker series, labelled ``load`` and stamped ``at`` (Unix seconds),
    written by promtool under ``work``."""
    source = work / "marker.om.txt"
    source.write_text(f'# TYPE {RELOAD_MARKER} gauge\n{RELOAD_MARKER}{{load="{load}"}} 1 {at:.3f}\n# EOF\n')
    out = work / "marker-blocks"
    try:
        done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(out)],
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise ProcessFailed("promtool", "did not write the TSDB's reload marker within 60 s", "") from None
    made = [p for p in out.glob("*") if (p / "meta.json").exists()] if done.returncode == 0 else []
    if len(made) != 1:
        raise ProcessFailed("promtool", f"could not write the TSDB's reload marker (exit code {done.returncode})",
                            (done.stderr or done.stdout).strip())
    return made[0]


def seed(data: Path, promtool: str) -> None:
    """Give a Prometheus about to start on an empty data folder its first marker block (see the module
    docstring); a folder already in use is left alone. Raises ProcessFailed when promtool fails, OSError when the
    folder cannot be written."""
    if data.exists() and any(data.iterdir()):
        return
    data.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data.parent) as work:
        block = _marker_block(Path(work), "seed", time.time(), promtool)  # before Prometheus scrapes anything
        os.replace(block, data / block.name)


def open_blocks(config: Config, blocks: Sequence[Path], promtool: str, marker_at: float) -> None:
    """Move ``blocks`` (promtool's output, on the data folder's file system) into the running Prometheus's data
    folder and have it open them without a restart, through the reload marker; a marker block of this load,
    stamped ``marker_at``, goes in with them. Whether they were opened is for the caller to check.

    ``marker_at`` (Unix seconds) must come before the first sample Prometheus holds in its head, as the blocks'
    own samples must: on its next start Prometheus drops every sample in its write-ahead log older than its
    newest block's end. Raises SandboxNotReady or KitError from the admin API, ProcessFailed when promtool fails.
    """
    data = config.paths.prometheus_data
    load = f"{time.time_ns()}"
    with tempfile.TemporaryDirectory(dir=data.parent) as work:
        marker = _marker_block(Path(work), load, marker_at, promtool)
        for block in (*blocks, marker):
            os.replace(block, data / block.name)
    # Every marker but this load's: should the TSDB's own reload (once a minute) open the new blocks first,
    # the next load still finds this marker.
    admin(config, "delete_series", [("match[]", f'{RELOAD_MARKER}{{load!="{load}"}}')])
    admin(config, "clean_tombstones")
