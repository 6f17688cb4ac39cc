"""Where pages go: an Alertmanager webhook receiver that stores every notification.

Alertmanager sends a notification when an alert group starts firing, changes or resolves, whatever the
alert's severity; a page is one of them (a firing alert with ``severity="page"``), a ticket is another.
The receiver appends each notification as one JSON line, so none is lost to a crash of the pager, the
kernel or the notebook; ``notifications()`` reads that file back as one DataFrame row per alert per
notification, and ``pages()`` is its older name.

Alertmanager names the receiver a notification went through (the webhook payload's ``receiver``): a team's,
named as its Group in the service catalog, or ``UNOWNED_RECEIVER`` for alerts no component claims. The sandbox
runs this receiver with an ``annotate`` hook (``kit.ownership.paging``) that stores beside each notification who
was on call for that team when each alert fired; this module only stores and reads that record back.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from typing import Any, Callable, Iterable

from . import polling
from .config import LOOPBACK, Config, resolve
from .errors import InvalidInput

NOTIFICATION_COLUMNS = [
    "received_at", "alertname", "status", "severity", "job", "service", "summary",
    "runbook_url", "starts_at", "ends_at", "fingerprint", "labels",
    "team", "primary", "secondary", "on_call_note",
]

UNOWNED_RECEIVER = "pager"
"""The receiver of sandbox/alertmanager.yml's root route: alerts no component of the catalog claims."""

NOT_RECORDED = "not recorded: this pager did not look up who was on call"
"""``on_call_note`` of a notification stored without an on-call record (a plain ``python -m kit.pager``)."""

Annotate = Callable[[dict], dict]
"""What the pager stores beside a notification: given the validated payload, a JSON-able dict of extra fields.
The one read back is ``on_call``, a list with one entry per alert of the payload, in order: ``{"primary":
{"name": ..., "email": ...} or null, "secondary": the same, "note": why someone is missing, or ""}``
(``kit.ownership.paging`` writes it)."""


MAX_BODY_BYTES = 16 * 2**20
"""The largest notification the pager reads; Alertmanager's are kilobytes, even with hundreds of alerts."""
READ_TIMEOUT_S = 10.0
"""How long the pager waits for a body that a client announced but does not send."""
_ALERT_STRINGS = ("startsAt", "endsAt", "fingerprint", "generatorURL")
_ROUTES = {"/health": "GET", "/metrics": "GET", "/alerts": "POST"}


def validate_notification(payload: Any) -> dict:
    """Refuse what is not an Alertmanager webhook notification the pager can read back.

    Validates the parts ``notifications()`` reads: ``alerts`` a list of objects whose ``labels`` and
    ``annotations`` are objects of strings, ``status`` "firing" or "resolved", times and
    fingerprint strings. Raises InvalidInput naming the field (``alerts[2].labels.severity``).
    """
    if not isinstance(payload, dict):
        raise InvalidInput("body", "must be a JSON object (an Alertmanager webhook notification)")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidInput("alerts", f"must be a list of alerts, got {_kind(alerts)}")
    for i, alert in enumerate(alerts):
        where = f"alerts[{i}]"
        if not isinstance(alert, dict):
            raise InvalidInput(where, f"must be an object, got {_kind(alert)}")
        for part in ("labels", "annotations"):
            values = alert.get(part, {})
            if not isinstance(values, dict):
                raise InvalidInput(f"{where}.{part}", f"must be an object of strings, got {_kind(values)}")
            for name, value in values.items():
                if not isinstance(value, str):
                    raise InvalidInput(f"{where}.{part}.{name}", f"must be a string, got {_kind(value)}")
        if alert.get("status", "firing") not in ("firing", "resolved"):
            raise InvalidInput(f"{where}.status", f"must be 'firing' or 'resolved', got {alert['status']!r:.40}")
        for name in _ALERT_STRINGS:
            if not isinstance(alert.get(name, ""), str):
                raise InvalidInput(f"{where}.{name}", f"must be a string, got {_kind(alert[name])}")
    return payload


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def notifications_file(config: Config | None = None) -> Path:
    """The JSONL file the pager of ``config``'s sandbox stores its notifications in."""
    return resolve(config).paths.notifications


class _Store:
    """Append-only JSONL store guarded by a lock (the server is threaded)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.count = 0

    def append(self, notification: dict, extra: dict) -> None:
        record = {**extra, "received_at": time.time(), "notification": notification}
        line = json.dumps(record, separators=(",", ":"))
        with self.lock:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            self.count += 1


def _handler(store: _Store, annotate: Annotate | None):
    class Handler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_S

        def log_message(self, *args) -> None:
            pass

        def _refuse(self, code: int, error: InvalidInput) -> None:
            body = {"error": str(error), "field": error.field, "problem": error.problem}
            self._reply(code, json.dumps(body).encode())

        def _reply(self, code: int, body: bytes, kind: str = "application/json", allow: str | None = None) -> None:
            self.send_response(code)
            if allow:
                self.send_header("Allow", allow)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self) -> bool:
            """True when this method serves this path; otherwise answers 404 or 405 (with Allow) and says False."""
            method = _ROUTES.get(urlsplit(self.path).path)
            if method == self.command:
                return True
            if method is None:
                self._reply(404, b'{"error":"not found"}')
            else:
                self._reply(405, json.dumps({"error": f"{self.path:.80} answers {method} only"}).encode(), allow=method)
            return False

        do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _route

        def do_GET(self) -> None:
            if not self._route():
                return
            if urlsplit(self.path).path == "/health":
                self._reply(200, b'{"status":"ok"}')
                return
            text = (
                "# HELP pager_notifications_total Alertmanager notifications stored.\n"
                "# TYPE pager_notifications_total counter\n"
                f"pager_notifications_total {store.count}\n"
            )
            self._reply(200, text.encode(), "text/plain; version=0.0.4")

        def do_POST(self) -> None:
            if not self._route():
                return
            announced = self.headers.get("Content-Length")
            if announced is None:
                self._refuse(411, InvalidInput("Content-Length", "is required: send the notification with its length"))
                return
            if not (announced.strip().isascii() and announced.strip().isdigit()):
                self._refuse(400, InvalidInput("Content-Length", f"must be a number of bytes, got {announced!r:.40}"))
                return
            if int(announced) > MAX_BODY_BYTES:
                too_long = InvalidInput("body", f"is {announced} bytes; the pager reads at most {MAX_BODY_BYTES}")
                self._refuse(413, too_long)
                return
            raw = self.rfile.read(int(announced))
            try:
                payload = validate_notification(json.loads(raw))
            except InvalidInput as error:
                self._refuse(400, error)
                return
            except (ValueError, RecursionError):
                self._refuse(400, InvalidInput("body", "is not JSON the pager can read"))
                return
            store.append(payload, _annotation(annotate, payload))
            self._reply(200, b'{"status":"stored"}')

    return Handler


def _annotation(annotate: Annotate | None, payload: dict) -> dict:
    """The hook's extra fields, or none: whatever goes wrong in it, the notification itself is stored."""
    if annotate is None:
        return {}
    try:
        extra = dict(annotate(payload))  # a hook that returns no mapping loses its fields, not the page
        json.dumps(extra)
    except Exception as error:  # noqa: BLE001 - a page must never be lost to its annotation
        print(f"pager: stored a notification without its annotation: {error!r}", file=sys.stderr, flush=True)
        return {}
    return extra


def serve(host: str, port: int, path: Path, annotate: Annotate | None = None) -> None:
    """Receive notifications on ``host:port`` and append each to ``path``, with ``annotate``'s fields if given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    store = _Store(path)
    if path.exists():
        with open(path, encoding="utf-8") as fh:
            store.count = sum(1 for _ in fh)
    server = ThreadingHTTPServer((host, port), _handler(store, annotate))
    server.daemon_threads = True
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as fh:
        return _parse(fh)


def _parse(lines: Iterable[str]) -> list[dict]:
    """One row (``NOTIFICATION_COLUMNS``) per alert per stored notification line."""
    rows = []
    for line in lines:
        try:
            record = json.loads(line)
            validate_notification(record["notification"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash mid-write, or stored before the pager validated shapes
        received = datetime.fromtimestamp(record["received_at"], tz=timezone.utc)
        receiver = record["notification"].get("receiver")
        team = receiver if isinstance(receiver, str) and receiver != UNOWNED_RECEIVER else ""
        on_call = record.get("on_call")
        for i, alert in enumerate(record["notification"].get("alerts", [])):
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
                "team": team,
                **_on_call(on_call[i] if isinstance(on_call, list) and i < len(on_call) else None),
            })
    return rows


def _on_call(entry: Any) -> dict[str, str]:
    """The on-call columns from one alert's stored entry (``Annotate``); a missing or malformed one reads as not
    recorded, never as a lost row."""
    if not isinstance(entry, dict):
        return {"primary": "", "secondary": "", "on_call_note": NOT_RECORDED}
    note = entry.get("note")
    return {"primary": _name(entry.get("primary")), "secondary": _name(entry.get("secondary")),
            "on_call_note": note if isinstance(note, str) else ""}


def _name(person: Any) -> str:
    name = person.get("name") if isinstance(person, dict) else None
    return name if isinstance(name, str) else ""


class NotificationFeed:
    """Notifications as they arrive: each ``read()`` parses only what the pager stored since the previous one.

    ``notifications()`` parses the whole file, a session's worth, on every call; a drill's watcher and a
    rehearsal poll several times a second and need only what is new. ``read()`` returns rows (dicts with
    ``NOTIFICATION_COLUMNS``) received at ``since`` (Unix seconds) or later; a line still being written waits for
    the next read, and a file replaced by a new sandbox's pager is read from its start.
    """

    def __init__(self, config: Config | None = None, *, since: float = 0.0) -> None:
        self.path = notifications_file(config)
        self.since = since
        self._offset = 0
        self._file: tuple[int, int] | None = None  # (device, inode) of the file read so far

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as fh:
                stat = os.fstat(fh.fileno())
                if (stat.st_dev, stat.st_ino) != self._file or stat.st_size < self._offset:
                    self._file, self._offset = (stat.st_dev, stat.st_ino), 0
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            self._offset = 0
            return []
        complete = data[:data.rfind(b"\n") + 1]
        self._offset += len(complete)
        rows = _parse(complete.decode("utf-8", errors="replace").splitlines())
        return [row for row in rows if row["received_at"].timestamp() >= self.since]


def headline(status: str, summary: str) -> str:
    """The summary as a person should read it for an alert of that status.

    Alertmanager sends a resolved alert with the annotations Prometheus last
    evaluated while it fired ("100% of checkouts are failing"), which would read as
    still true; so a resolved alert's summary says that it was the firing one.
    """
    return f"was firing: {summary}" if status == "resolved" and summary else summary


def notifications(config: Config | None = None, *, since: float | datetime | None = None):
    """Every notification the pager stored, as a DataFrame, oldest first; ``since`` (Unix seconds or a
    datetime) keeps only those received then or later.

    One row per alert per notification, firing and resolved, of every severity. Columns
    (``NOTIFICATION_COLUMNS``): ``received_at`` (aware UTC datetime the pager stored it), ``alertname``,
    ``status`` ("firing" or "resolved"), ``severity`` ("page", "ticket", ...), ``job``, ``service``,
    ``summary`` (the alert's ``headline``), ``runbook_url``, ``starts_at`` and ``ends_at`` (Alertmanager's
    RFC 3339 strings), ``fingerprint``, ``labels`` (the alert's full label dict); ``team``, the owning team it
    was routed to (the Alertmanager receiver, a Group of the catalog; "" for alerts no component claims);
    ``primary`` and ``secondary``, the names of who was on call for that team at ``starts_at`` ("" for nobody);
    ``on_call_note``, why one of them is "" (a gap in the rotation, no rotation file, no owning team,
    ``NOT_RECORDED``), "" when both were found. The pages proper are the rows with ``status == "firing"`` and
    ``severity == "page"``.
    """
    import pandas as pd

    frame = pd.DataFrame(_rows(notifications_file(config)), columns=NOTIFICATION_COLUMNS)
    if since is not None and len(frame):
        cutoff = since if isinstance(since, datetime) else datetime.fromtimestamp(since, tz=timezone.utc)
        frame = frame[frame["received_at"] >= cutoff].reset_index(drop=True)
    return frame


def pages(config: Config | None = None, *, since: float | datetime | None = None):
    """The older name of ``notifications()``, kept for the labs (``kit.pages()``): the same rows, so every
    notification (resolved ones and tickets too), not only the pages; filter on ``status`` and
    ``severity`` for those."""
    return notifications(config, since=since)


def wait_for_page(alertname: str, *, status: str = "firing", timeout: float = 60.0,
                  since: float | datetime | None = None, config: Config | None = None):
    """Block until the pager has stored a notification of ``alertname`` with ``status`` (of any severity);
    returns those rows (``NOTIFICATION_COLUMNS``). Raises CheckFailed naming the store after ``timeout``
    seconds, InvalidInput for a status other than "firing" or "resolved"."""
    if status not in ("firing", "resolved"):
        raise InvalidInput("status", f"{status!r} must be 'firing' or 'resolved'")
    import pandas as pd

    feed = NotificationFeed(config, since=since.timestamp() if isinstance(since, datetime) else since or 0.0)
    seen = 0

    def hits() -> list[dict]:
        nonlocal seen
        rows = feed.read()
        seen += len(rows)
        return [row for row in rows if row["alertname"] == alertname and row["status"] == status]

    found = polling.wait_for(hits, timeout, 0.2, describe=lambda: (
        f"no {status} notification of {alertname} within {timeout:.0f} s (notifications stored in {feed.path}: "
        f"{seen}). Is the fault still injected, and does `kit status` show every target up? Alertmanager pages once "
        f"per incident: if {alertname} was still firing from an earlier run when this wait began, no new page comes "
        "until it has resolved"))
    return pd.DataFrame(found, columns=NOTIFICATION_COLUMNS)


def argument_parser(prog: str = "python -m kit.pager") -> argparse.ArgumentParser:
    """The receiver's command line (--host, --port, --store, --allow-remote), for ``main`` and its variants."""
    parser = argparse.ArgumentParser(prog=prog, description="Alertmanager webhook receiver")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, required=True, help="JSONL file that keeps every notification")
    parser.add_argument("--allow-remote", action="store_true", help="permit a non-loopback --host")
    return parser


def run(parser: argparse.ArgumentParser, args: argparse.Namespace, annotate: Annotate | None = None) -> None:
    """Serve as ``args`` (from ``argument_parser``) say; a usage error through ``parser`` for a non-loopback host."""
    if args.host not in LOOPBACK and not args.allow_remote:
        parser.error(f"--host {args.host} is not loopback; pass --allow-remote to expose the pager on purpose")
    serve(args.host, args.port, args.store, annotate)


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser()
    run(parser, parser.parse_args(argv))


if __name__ == "__main__":
    main()
