"""nbgrader's exchange for a cohort: the facilitator releases a lab, each learner fetches and submits it, the
facilitator collects the submissions, and ``kit grade`` grades the collected folder into one gradebook.

The exchange is a folder every learner can write into (``Exchange.root``, nbgrader's ``Exchange.root``),
holding ``<course>/outbound/<lab>/`` (released) and ``<course>/inbound/<learner>+<lab>+<time>/`` (submitted).
Each step runs nbgrader's own exchange plugin in this process, configured here rather than by an
``nbgrader_config.py``, so the facilitator and the learners need no nbgrader settings of their own; the hub
writes the same two settings for nbgrader's Assignments tab (``Exchange.nbgrader_config``). What is released
is the committed ``labs/<lab>/`` folder, the same files `kit lab` copies for a learner working alone.

nbgrader's warnings reach the person through each step's ``warn`` (`kit hub` prints them): collect's above all,
which names a submission whose file owner is not the learner it claims to be from, the check that tells learners
apart on a host where each is a system user.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..config import REPO_ROOT, ContentPaths
from ..errors import InvalidInput

EXCHANGE_ENV = "KIT_HUB_EXCHANGE"
COURSE_ENV = "KIT_HUB_COURSE"
DEFAULT_EXCHANGE = "/srv/nbgrader/exchange"
DEFAULT_COURSE = "reliability-dojo"

_log = logging.getLogger(__name__)
_log.addHandler(logging.NullHandler())  # a library's logger: shown where an application sets logging up, else not

Warn = Callable[[str], None]
"""Where a step's warnings from nbgrader go, one message a call (`kit hub` prints them on stderr)."""


def quiet(_: str) -> None:
    """The default ``warn``: the warnings still go to this module's logger."""


@dataclass(frozen=True)
class Exchange:
    """Where a cohort's labs travel: the exchange folder ``root`` and the nbgrader course id ``course``."""

    root: Path = Path(DEFAULT_EXCHANGE)
    course: str = DEFAULT_COURSE

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, root: Path | str | None = None,
                 course: str | None = None) -> "Exchange":
        """Explicit values, else KIT_HUB_EXCHANGE and KIT_HUB_COURSE (the hub sets both for every learner),
        else /srv/nbgrader/exchange and reliability-dojo."""
        env = os.environ if env is None else env
        return cls(Path(root or env.get(EXCHANGE_ENV) or DEFAULT_EXCHANGE),
                   course or env.get(COURSE_ENV) or DEFAULT_COURSE)

    def nbgrader_config(self) -> dict:
        """The settings nbgrader's Assignments tab needs, as the content of an ``nbgrader_config.json``."""
        return {"Exchange": {"root": str(self.root)}, "CourseDirectory": {"course_id": self.course}}

    def outbound(self, lab: str) -> Path:
        return self.root / self.course / "outbound" / lab


def release(lab: str, exchange: Exchange, *, root: Path = REPO_ROOT, warn: Warn = quiet) -> Path:
    """Put ``labs/<lab>/`` of the repository ``root`` into the exchange; returns its outbound folder.

    Releasing again replaces what was released (learners who fetched keep their copies). Creates the
    exchange folder with nbgrader's permissions when it is missing. Raises InvalidInput (field "lab") for a
    lab without a released folder, or (field "exchange") with nbgrader's reason when the exchange refuses.
    """
    released = ContentPaths(Path(root)).labs / lab
    if not released.is_dir():
        raise InvalidInput("lab", f"{released} does not exist; build it with `kit labs build {lab}`")
    _run("ReleaseAssignment", lab, exchange, warn, root=Path(root), release_directory=released.parent.name,
         force=True)
    return exchange.outbound(lab)


def fetch(lab: str, exchange: Exchange, *, into: Path | str, warn: Warn = quiet) -> Path:
    """Copy the released lab into the folder ``into`` (``<into>/<lab>/``); returns that folder.

    A lab fetched before is left as it is (nbgrader refuses to overwrite a learner's work): the learner
    moves it aside to fetch a fresh copy. Raises InvalidInput (field "exchange") with nbgrader's reason.
    """
    into = Path(into)
    _run("FetchAssignment", lab, exchange, warn, assignment_dir=into)
    return into / lab


def submit(lab: str, exchange: Exchange, *, work: Path | str, learner: str | None = None,
           warn: Warn = quiet) -> str:
    """Hand in ``<work>/<lab>/`` as ``learner``; returns the learner name it was submitted under.

    ``learner`` defaults to the hub's name for this server's user (JUPYTERHUB_USER), then to the system
    user: on a hub whose learners share one system account (a test, a container) only the hub's name tells
    them apart. Submitting again adds a newer submission; ``collect`` takes the newest.
    """
    learner = learner or os.environ.get("JUPYTERHUB_USER") or None
    _run("Submit", lab, exchange, warn, assignment_dir=Path(work), student_id=learner or "*")
    return learner or _system_user()


def collect(lab: str, exchange: Exchange, *, into: Path | str, warn: Warn = quiet) -> Path:
    """Copy every learner's newest submission of ``lab`` to ``<into>/<learner>/<lab>/``; returns ``into``.

    That is the folder ``kit grade INTO --lab LAB`` grades into one gradebook. Collecting again updates a
    learner's copy when they submitted since. A submission whose files' owner (a system user) is not the learner
    it is named for is collected all the same, with a warning naming both.
    """
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    # nbgrader opens a gradebook only for the lab's due date, which the kit never sets: an empty one in memory,
    # made with the `alembic` beside this Python (nbgrader runs it from PATH, where a venv's may not be).
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join(filter(None, [scripts, path]))
    try:
        _run("Collect", lab, exchange, warn, root=into, submitted_directory=".", update=True, db_url="sqlite://")
    finally:
        os.environ["PATH"] = path
    return into


def _run(step: str, lab: str, exchange: Exchange, warn: Warn, *, root: Path | None = None,
         assignment_dir: Path | None = None, student_id: str | None = None, force: bool = False, update: bool = False,
         **directories: str) -> None:
    """One nbgrader exchange step (its plugin class named ``step``) for ``lab``, configured here, its warnings to
    ``warn``."""
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange import ExchangeError, ExchangeFactory
    from traitlets.config import Config as Settings

    if not lab or "/" in lab or lab.startswith("."):
        raise InvalidInput("lab", f"{lab!r} is not a lab's name")
    settings = Settings()
    settings.Exchange.root = str(exchange.root)
    settings.CourseDirectory.course_id = exchange.course
    settings.CourseDirectory.assignment_id = lab
    if root is not None:
        settings.CourseDirectory.root = str(root)
    for name, value in directories.items():
        settings.CourseDirectory[name] = value
    if student_id is not None:
        settings.CourseDirectory.student_id = student_id
    if assignment_dir is not None:
        settings.Exchange.assignment_dir = str(assignment_dir)
    if force:
        settings.ExchangeReleaseAssignment.force = True
    if update:
        settings.ExchangeCollect.update = True
    coursedir = CourseDirectory(config=settings)
    plugin = getattr(ExchangeFactory(config=settings), step)(
        coursedir=coursedir, authenticator=Authenticator(config=settings), config=settings, log=_Warnings(warn))
    try:
        plugin.start()
    except ExchangeError as exc:
        raise InvalidInput("exchange", f"{step} of {lab} refused: {exc}", source=str(exchange.root)) from None


class _Warnings(logging.LoggerAdapter):
    """The logger a plugin is given: its warnings to ``warn`` as well as to this module's logger. Without it a
    plugin logs to traitlets' logger, which drops everything unless an application set logging up."""

    def __init__(self, warn: Warn) -> None:
        super().__init__(_log, {})
        self.warn = warn

    def log(self, level: int, msg: object, *args: object, **kwargs) -> None:
        if level == logging.WARNING:
            self.warn((str(msg) % args if args else str(msg)).strip())
        super().log(level, msg, *args, **kwargs)


def _system_user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
