"""The sandbox's pager, told who was on call: each notification is stored with, per alert, the primary and the
secondary of the team it was routed to, at the moment the alert fired (its ``startsAt``).

The team is the Alertmanager receiver the notification came through (the webhook payload's ``receiver``, named
as the team's Group by ``kit.ownership.routing``); its rotation is ``<team>.ics`` in the on-call folder
(``oncall/``), read with ``kit.ownership.oncall``. The record is made when the page arrives, as a paging product
records whom it notified: repairing a rotation afterwards does not rewrite who was, or was not, on call for a
past page. Nobody on call is a note in the record (no owning team, no rotation file, a rotation that does not
load, a gap in it), never an error: the pager stores the page either way (``kit.pager.Annotate``).

Run as ``python -m kit.ownership.paging --port N --store FILE [--oncall FOLDER]``; `kit up` does.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import pager
from ..config import CONTENT
from ..errors import InvalidInput
from . import oncall

__all__ = ["OnCallRecorder", "main", "started_at"]

_RFC3339 = re.compile(r"(?P<head>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:\d\d)",
                      re.IGNORECASE)


def started_at(text: str) -> datetime | None:
    """An alert's ``startsAt`` (RFC 3339, as Alertmanager writes it: nanoseconds, ``Z``) as an aware datetime,
    to the microsecond; None when it is not one."""
    found = _RFC3339.fullmatch(text.strip())
    if found is None:
        return None
    fraction = f".{found['fraction'][:6]:0<6}" if found["fraction"] else ""
    zone = "+00:00" if found["zone"].upper() == "Z" else found["zone"]
    try:
        return datetime.fromisoformat(found["head"] + fraction + zone)
    except ValueError:
        return None


def _person(engineer: oncall.Engineer | None) -> dict[str, str] | None:
    return None if engineer is None else {"name": engineer.name, "email": engineer.email}


class OnCallRecorder:
    """The pager's ``annotate`` hook: ``{"on_call": [entry per alert]}`` for a notification (``kit.pager.Annotate``
    gives the entry's shape). ``folder`` holds the rotations; each is read again only when its file changes."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._rotations: dict[Path, tuple[tuple[int, int], oncall.Rotation]] = {}

    def __call__(self, notification: dict) -> dict[str, Any]:
        receiver = notification.get("receiver")
        team = receiver if isinstance(receiver, str) and receiver != pager.UNOWNED_RECEIVER else ""
        return {"on_call": [self.entry(team, alert.get("startsAt", "")) for alert in notification["alerts"]]}

    def entry(self, team: str, starts_at: str) -> dict[str, Any]:
        """Who was on call for ``team`` at ``starts_at`` (RFC 3339): ``{"primary", "secondary", "note"}``."""
        if not team:
            return self._nobody("no owning team: no component of the catalog claims the alert's job")
        if Path(team).name != team or team.startswith("."):
            return self._nobody(f"receiver {team!r} cannot name a rotation file")
        when = started_at(starts_at) if isinstance(starts_at, str) else None
        if when is None:
            return self._nobody(f"the alert's startsAt {starts_at!r} is not an RFC 3339 time")
        path = self.folder / f"{team}.ics"
        try:
            rotation = self._rotation(path)
            if rotation is None:
                return self._nobody(f"no rotation for {team}: {CONTENT.shown(path)} does not exist")
            who = rotation.on_call_at(when)
        except InvalidInput as error:
            return self._nobody(f"rotation unreadable: {error}")
        missing = [role for role, engineer in zip(oncall.ROLES, who) if engineer is None]
        note = ""
        if missing:
            moment = when.astimezone(rotation.zone).strftime("%Y-%m-%d %H:%M %Z")
            nobody = "nobody on call" if len(missing) == 2 else f"no {missing[0]}"
            note = f"gap in {rotation.source}: {nobody} at {moment}"
        return {"primary": _person(who.primary), "secondary": _person(who.secondary), "note": note}

    @staticmethod
    def _nobody(note: str) -> dict[str, Any]:
        return {"primary": None, "secondary": None, "note": note}

    def _rotation(self, path: Path) -> oncall.Rotation | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise InvalidInput("FILE", f"cannot read it: {error.strerror}", source=CONTENT.shown(path)) from None
        version = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._rotations.get(path)
            if cached is None or cached[0] != version:
                cached = self._rotations[path] = (version, oncall.load(path))
            return cached[1]


def main(argv: list[str] | None = None) -> None:
    parser = pager.argument_parser("python -m kit.ownership.paging")
    parser.add_argument("--oncall", type=Path, default=CONTENT.oncall,
                        help="folder of the teams' rotations, <team>.ics (default: the repository's oncall/)")
    args = parser.parse_args(argv)
    pager.run(parser, args, OnCallRecorder(args.oncall))


if __name__ == "__main__":
    main()
