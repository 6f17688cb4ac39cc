"""Where pages go: an Alertmanager webhook receiver that stores every notification.

The receiver appends each notification as one JSON line, so pages survive a
crash of the pager, the kernel or the notebook; ``pages()`` reads that file
back as one DataFrame row per alert per notification.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .config import LOOPBACK, Config
from .errors import CheckFailed, InvalidInput

PAGE_COLUMNS = [
    "received_at", "alertname", "status", "severity", "job", "service", "summary",
    "runbook_url", "starts_at", "ends_at", "fingerprint", "labels",
]


def pages_file(config: Config | None = None) -> Path:
    return (config or Config.from_env()).state / "pages.jsonl"


class _Store:
    """Append-only JSONL store guarded by a lock (the server is threaded)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.count = 0

    def append(self, notification: dict) -> None:
        line = json.dumps({"received_at": time.time(), "notification": notification}, separators=(",", ":"))
        with self.lock:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            self.count += 1


def _handler(store: _Store):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _reply(self, code: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._reply(200, b'{"status":"ok"}')
            elif self.path == "/metrics":
                text = (
                    "# HELP pager_notifications_total Alertmanager notifications stored.\n"
                    "# TYPE pager_notifications_total counter\n"
                    f"pager_notifications_total {store.count}\n"
                )
                self._reply(200, text.encode(), "text/plain; version=0.0.4")
            else:
                self._reply(404, b'{"error":"not found"}')

        def do_POST(self) -> None:
            if self.path != "/alerts":
                self._reply(404, b'{"error":"not found"}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                payload = json.loads(self.rfile.read(length))
                if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
                    raise ValueError("body must be an Alertmanager webhook notification with an 'alerts' list")
            except ValueError as exc:
                self._reply(400, json.dumps({"error": str(exc)}).encode())
                return
            store.append(payload)
            self._reply(200, b'{"status":"stored"}')

    return Handler


def serve(host: str, port: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    store = _Store(path)
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            store.count = sum(1 for _ in fh)
    server = ThreadingHTTPServer((host, port), _handler(store))
    server.daemon_threads = True
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _rows(path: Path) -> list[dict]:
    rows = []
    if not path.exists():
        return rows
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash mid-write; the rest is intact
            received = datetime.fromtimestamp(record["received_at"], tz=timezone.utc)
            for alert in record["notification"].get("alerts", []):
                labels = alert.get("labels", {})
                notes = alert.get("annotations", {})
                status = alert.get("status", "")
                rows.append({
                    "received_at": received,
                    "alertname": labels.get("alertname", ""),
                    "status": status,
                    "severity": labels.get("severity", ""),
                    "job": labels.get("job", ""),
                    "service": labels.get("service", ""),
                    "summary": headline(status, notes.get("summary", "")),
                    "runbook_url": notes.get("runbook_url", ""),
                    "starts_at": alert.get("startsAt", ""),
                    "ends_at": alert.get("endsAt", ""),
                    "fingerprint": alert.get("fingerprint", ""),
                    "labels": labels,
                })
    return rows


def headline(status: str, summary: str) -> str:
    """The summary as a person should read it for an alert of that status.

    Alertmanager sends a resolved alert with the annotations Prometheus last
    evaluated while it fired ("100% of checkouts are failing"), which would read as
    still true; so a resolved alert's summary says that it was the firing one.
    """
    return f"was firing: {summary}" if status == "resolved" and summary else summary


def pages(config: Config | None = None, *, since: float | datetime | None = None):
    """Every stored page as a DataFrame, oldest first; ``since`` keeps only later ones.

    One row per alert per notification (columns ``PAGE_COLUMNS``); ``received_at`` is
    an aware UTC datetime; ``summary`` is the alert's ``headline``.
    """
    import pandas as pd

    frame = pd.DataFrame(_rows(pages_file(config)), columns=PAGE_COLUMNS)
    if since is not None and len(frame):
        cutoff = since if isinstance(since, datetime) else datetime.fromtimestamp(since, tz=timezone.utc)
        frame = frame[frame["received_at"] >= cutoff].reset_index(drop=True)
    return frame


def wait_for_page(alertname: str, *, status: str = "firing", timeout: float = 60.0,
                  since: float | datetime | None = None, config: Config | None = None):
    """Block until the pager has stored ``alertname`` with ``status``; returns those rows."""
    if status not in ("firing", "resolved"):
        raise InvalidInput("status", f"{status!r} must be 'firing' or 'resolved'")
    path = pages_file(config)
    deadline = time.monotonic() + timeout
    while True:
        frame = pages(config, since=since)
        hits = frame[(frame["alertname"] == alertname) & (frame["status"] == status)]
        if len(hits):
            return hits.reset_index(drop=True)
        if time.monotonic() >= deadline:
            raise CheckFailed(
                f"no {status} page for {alertname} within {timeout:.0f} s (pages stored in {path}: "
                f"{len(frame)}). Is the fault still injected, and does `kit status` show every target up?"
            )
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kit.pager", description="Alertmanager webhook receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, required=True, help="JSONL file that keeps every notification")
    parser.add_argument("--allow-remote", action="store_true", help="permit a non-loopback --host")
    args = parser.parse_args(argv)
    if args.host not in LOOPBACK and not args.allow_remote:
        parser.error(f"--host {args.host} is not loopback; pass --allow-remote to expose the pager on purpose")
    serve(args.host, args.port, args.store)


if __name__ == "__main__":
    main()
