"""The shop and payments started as real processes on free ports, for the test modules that need them alone."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from kit import localhttp
from kit.config import FLAGS_FILE, REPO_ROOT, Config
from kit.flags import ensure_flags
from kit.procs import ProcessRecord, alive, free_ports, log_tail, spawn, stop, wait_until

TOKEN = "test-token-0123456789"


@dataclass(frozen=True)
class Services:
    shop: str
    payments: str
    token: str
    config: Config

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _start(name: str, argv: list[str], log: Path, url: str) -> ProcessRecord:
    record = spawn(name, [sys.executable, "-m", "kit.shop.service", *argv], log, cwd=REPO_ROOT)

    def healthy() -> bool:
        if not alive(record):
            pytest.fail(f"{name} exited during start:\n{log_tail(log)}")
        try:
            return localhttp.client().get(f"{url}/health", timeout=0.5).status_code == 200
        except httpx.TransportError:
            return False

    if not wait_until(healthy, timeout=20):
        stop(record)
        pytest.fail(f"{name} did not answer /health within 20 s:\n{log_tail(log)}")
    return record


@contextmanager
def running_services(state: Path, *shop_argv: str) -> Iterator[Services]:
    """Payments, then the shop (with ``shop_argv`` added), with their admin token and the default flag file in
    ``state`` (where a sandbox keeps them); both stopped after."""
    shop_port, payments_port = free_ports(2)  # no HAProxy here: the shop process is both the public and the stable shop
    config = Config(shop_port=shop_port, shop_stable_port=shop_port, payments_port=payments_port, state_dir=str(state))
    fd = os.open(config.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(TOKEN + "\n")
    config.paths.rendered.mkdir()
    ensure_flags(config.paths.flags, Path(config.sandbox_dir) / FLAGS_FILE)
    common = ["--host", "127.0.0.1", "--token-file", str(config.token_file)]
    records: list[ProcessRecord] = []
    try:
        records.append(_start(
            "payments", ["payments", *common, "--port", str(config.payments_port)],
            state / "payments.log", config.url("payments"),
        ))
        records.append(_start(
            "shop",
            ["shop", *common, "--port", str(config.shop_port), "--payments-url", config.url("payments"),
             "--flags-file", str(config.paths.flags), *shop_argv],
            state / "shop.log", config.url("shop"),
        ))
        yield Services(config.url("shop"), config.url("payments"), TOKEN, config)
    finally:
        for record in reversed(records):
            stop(record)
        assert not any(alive(record) for record in records)
