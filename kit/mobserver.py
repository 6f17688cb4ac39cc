"""A mob's shared JupyterLab (`kit lab --mob`): one notebook, every member under their own name.

JupyterLab runs with real-time collaboration (jupyter-collaboration) on. Each member of the
mob's roster gets a join link: the server's address with a secret of their own as the token
(``?token=``). ``MobIdentityProvider``, a jupyter_server identity provider, logs that token in
as the member (name, display name and initials in the collaborators list, a colour of their own);
the server's own token still works and logs in as the host. The links live in the state folder
(``StatePaths.mob_links``), so a restarted server keeps them; a revoked link, and the login
cookie it left in a browser, are refused with a page that says so.

The mob timer's roles (driver, navigator, next) reach every member through the server: a
server extension (this module, loaded as ``kit.mobserver``) answers ``ROLES_PATH`` from the
timer's session file (kit.mob), and a small prebuilt JupyterLab extension (``kit/labextensions/
kit-mob-roles``) polls it every second and shows each name with its role in the top bar, beside
the collaborators' avatars. Polling the server, not the identity (which JupyterLab re-reads only
every 61 s) nor a widget (which lives in one kernel's output), is what shows a rotation to
everybody at once.

Jupyter's own databases for collaboration (file ids, document updates, session ids) are kept in
the state folder too, never in the user's home or the working folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import weakref
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from jupyter_server.auth.identity import PasswordIdentityProvider, User
from jupyter_server.base.handlers import APIHandler
from tornado import web, websocket
from tornado.ioloop import PeriodicCallback
from traitlets import default

from .atomicfile import folder_locked, write_atomically
from .config import Config
from .errors import InvalidInput, KitError
from .labserver import LabLaunch
from .mob import MobPlan, MobSession, default_path, format_seconds, load_session

ROLES_PATH = "kit/mob/roles"
"""Where the server answers the mob's roles (JSON), under its base URL."""
LABEXTENSIONS = Path(__file__).resolve().parent / "labextensions"
"""The kit's prebuilt JupyterLab extensions (``kit-mob-roles``), added to a mob server's extension path."""
HOST = "mob-host"
REVOKED_CLOSE_CODE = 4403
"""The close code of a revoked member's websockets (the 4000s are the application's; 403 as over HTTP)."""
"""The username of whoever logs in with the server's own token."""
FILE_VERSION = 1
_COLORS = 7
"""JupyterLab's theme defines --jp-collaborator-color1 to 7."""


@dataclass(frozen=True)
class JoinLink:
    """One member's way in: their name and the secret their link carries as its token."""

    name: str
    secret: str
    revoked: bool = False

    @property
    def username(self) -> str:
        """Jupyter's username for the member: new with every link, so a revoked link's cookie never fits a new one."""
        return "mob-" + hashlib.sha256(self.secret.encode()).hexdigest()[:12]

    @property
    def initials(self) -> str:
        words = self.name.split()
        return (words[0][0] + words[-1][0] if len(words) > 1 else self.name[:2]).upper()


@dataclass(frozen=True)
class MobLinks:
    """Every join link a mob has had, and where its server last listened (``base_url``, e.g. http://127.0.0.1:8888)."""

    members: tuple[JoinLink, ...] = ()
    base_url: str | None = None
    opens: str | None = None

    def active(self, name: str) -> JoinLink | None:
        """The member's link that still works, if any (names compare without case)."""
        return next((m for m in self.members if not m.revoked and m.name.casefold() == name.casefold()), None)

    def by_secret(self, secret: str) -> JoinLink | None:
        """The link (working or revoked) whose secret this is, compared in constant time."""
        found = None
        for member in self.members:
            if hmac.compare_digest(member.secret.encode(), secret.encode()):
                found = member
        return found

    def by_username(self, username: str) -> JoinLink | None:
        return next((m for m in self.members if m.username == username), None)

    def names(self) -> tuple[str, ...]:
        """Members with a working link, in the order they were added."""
        return tuple(m.name for m in self.members if not m.revoked)

    def url(self, link: JoinLink) -> str:
        """The link a member opens: the notebook the mob works on (or JupyterLab's start), with their token."""
        if self.base_url is None:
            raise KitError("the mob server has not started yet, so its address is unknown: run `kit lab --mob`")
        where = f"lab/tree/{quote(self.opens)}" if self.opens else "lab"
        return f"{self.base_url.rstrip('/')}/{where}?token={link.secret}"

    def listing(self) -> str:
        """Every working link, one line per member ("Name: URL"), for the person who hands them out."""
        lines = [f"{m.name}: {self.url(m)}" for m in self.members if not m.revoked]
        return "\n".join(["join links (one per member; each logs in as that member, so hand each to its owner):",
                          *lines])

    def to_json(self) -> dict:
        return {"version": FILE_VERSION, "base_url": self.base_url, "opens": self.opens,
                "members": [{"name": m.name, "secret": m.secret, "revoked": m.revoked} for m in self.members]}

    @classmethod
    def from_json(cls, data: object) -> MobLinks:
        """Rebuild the links, raising ValueError on anything the kit could not have written."""
        if not isinstance(data, dict) or data.get("version") != FILE_VERSION:
            raise ValueError(f"expected an object with \"version\": {FILE_VERSION}")
        members = data.get("members")
        if not isinstance(members, list) or not all(
                isinstance(m, dict) and isinstance(m.get("name"), str) and isinstance(m.get("secret"), str)
                and m["secret"] and isinstance(m.get("revoked"), bool) for m in members):
            raise ValueError("\"members\" must be a list of {name, secret, revoked}")
        for key in ("base_url", "opens"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(f"\"{key}\" must be text or null")
        return cls(tuple(JoinLink(m["name"], m["secret"], m["revoked"]) for m in members),
                   data.get("base_url"), data.get("opens"))


def load_links(path: Path) -> MobLinks:
    """The saved links (none if the file does not exist); a damaged file is a KitError that says what to do."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return MobLinks()
    except (OSError, UnicodeDecodeError) as error:
        raise KitError(f"cannot read the mob's join links {path}: {error}") from None
    try:
        return MobLinks.from_json(json.loads(text))
    except ValueError as error:
        raise KitError(f"the mob's join links file {path} is damaged ({error}); delete it and start "
                       "`kit lab --mob` again to give everyone new links") from None


def _save_links(links: MobLinks, path: Path) -> None:
    """Atomically, readable by this user only: the file holds every member's secret."""
    write_atomically(path, json.dumps(links.to_json(), indent=2))


def _changing(path: Path):
    """Read, change and write the links under one lock (on their folder), whichever command changes them."""
    return folder_locked(path.parent, lambda error: KitError(
        f"cannot keep the mob's join links in {path.parent}: {error.strerror or error}"))


def _update(path: Path, change) -> MobLinks:
    with _changing(path):
        links = change(load_links(path))
        _save_links(links, path)
        return links


def ensure_links(path: Path, roster: tuple[str, ...], *, base_url: str, opens: str | None) -> MobLinks:
    """Give every roster member without a link one, keep every existing link (revoked ones stay revoked),
    and record where the server listens. Returns the links as saved to ``path``."""
    def change(links: MobLinks) -> MobLinks:
        known = {m.name.casefold() for m in links.members}
        fresh = tuple(JoinLink(name, secrets.token_urlsafe(18)) for name in roster if name.casefold() not in known)
        return MobLinks(links.members + fresh, base_url, opens)

    return _update(path, change)


def add_member(path: Path, name: str) -> JoinLink:
    """A new link for ``name``: a newcomer, or a member whose link was revoked. Works while the server runs.

    Raises InvalidInput if the name is empty or already has a working link.
    """
    name = name.strip()
    if not name:
        raise InvalidInput("name", "give the member's name, e.g. `kit mob add Dee`")

    def change(links: MobLinks) -> MobLinks:
        if (member := links.active(name)) is not None:
            raise InvalidInput("name", f"{member.name} already has a working join link (`kit mob links` prints it)")
        return replace(links, members=links.members + (JoinLink(name, secrets.token_urlsafe(18)),))

    return _update(path, change).active(name)


def revoke(path: Path, name: str) -> JoinLink:
    """Revoke ``name``'s link at once: the server refuses it, and the login it gave a browser, from the next request.

    Raises InvalidInput naming the members with working links if ``name`` has none.
    """
    def change(links: MobLinks) -> MobLinks:
        link = links.active(name)
        if link is None:
            names = ", ".join(links.names()) or "nobody"
            raise InvalidInput("name", f"{name!r} has no working join link; members with one: {names}")
        return replace(links, members=tuple(replace(m, revoked=True) if m is link else m for m in links.members))

    links = _update(path, change)
    return next(m for m in reversed(links.members) if m.name.casefold() == name.casefold())


def roster(config: Config, given: str | None = None) -> tuple[str, ...]:
    """The mob's names: ``given`` (comma-separated, e.g. "Ana,Ben,Cy"), else the mob timer's roster,
    else the members a previous `kit lab --mob` gave links to. Raises InvalidInput if there are none."""
    if given is not None:
        return MobPlan(tuple(n for n in given.split(",") if n.strip()) or ("",)).roster
    session = load_session(config.paths.mob_session)
    if session is not None:
        return session.plan.roster
    names = load_links(config.paths.mob_links).names()
    if names:
        return names
    raise InvalidInput("--roster", "the mob has no roster yet: give one, e.g. --roster Ana,Ben,Cy, "
                                   "or set up the mob timer in lab 00 first")


def collaborative(launch: LabLaunch, config: Config) -> LabLaunch:
    """``launch`` (from ``labserver.settings(..., collaborate=True)``) as a mob's server: members log in by
    their join links, the roles extension is on, and Jupyter's collaboration stores live in the state folder."""
    folder = config.paths.mob_server
    argv = [*launch.argv,
            f"--ServerApp.identity_provider_class={__name__}.{MobIdentityProvider.__name__}",
            f"--ServerApp.jpserver_extensions={__name__}=True",
            f"--LabApp.extra_labextensions_path={LABEXTENSIONS}",
            f"--BaseFileIdManager.db_path={folder / 'file-ids.db'}",
            f"--SQLiteYStore.db_path={folder / 'documents.db'}",
            f"--YDocExtension.session_store_path={folder / 'collaboration-sessions.json'}"]
    return replace(launch, argv=argv)


def check_port(host: str, port: int) -> None:
    """Refuse a port a server already holds (another mob server, say), before anything is started.

    Raises InvalidInput saying who holds it and what to do.
    """
    from .labserver import check_port as refuse_busy

    refuse_busy(host, port, advice="Is a mob server already running? Join that one (`kit mob links`), or pick "
                                   "another port with --port N")


@dataclass(frozen=True)
class RoleBoard:
    """What every member's JupyterLab shows: each name with its role now, and the timer's clock.

    ``members`` is (name, role) in the timer's rotation order, members outside it last with role "";
    roles are "driver", "navigator" and "next" (who navigates after the navigator drives).
    ``state`` is "not started", "running", "paused" or "break"; ``clock`` the time left (m:ss).
    """

    members: tuple[tuple[str, str], ...]
    state: str
    clock: str
    turn: int

    def to_json(self, you: str | None) -> dict:
        return {"members": [{"name": n, "role": r} for n, r in self.members], "state": self.state,
                "clock": self.clock, "turn": self.turn, "you": you}


def role_board(session: MobSession | None, names: tuple[str, ...], now: float) -> RoleBoard:
    """The board at ``now`` (Unix seconds) from the timer's session (None: no timer yet) and the members' names."""
    if session is None:
        return RoleBoard(tuple((n, "") for n in names), "not started", "", 0)
    m = session.moment(now)
    roles = {m.driver: "driver", m.navigator: "navigator"}
    if m.researchers:
        roles[m.researchers[0]] = "next"
    rotation = session.plan.roster
    others = tuple(n for n in names if n.casefold() not in {r.casefold() for r in rotation})
    state = "break" if m.on_break else "paused" if m.paused else "running" if m.started else "not started"
    return RoleBoard(tuple((n, roles.get(n, "")) for n in rotation + others), state,
                     format_seconds(m.seconds_left), m.turn)


class MobIdentityProvider(PasswordIdentityProvider):
    """jupyter_server's token login, where each member's join-link secret is a token that logs in as them.

    The server's own token logs in as the host. The links file is re-read whenever it changes, so
    `kit mob add` and `kit mob revoke` act on a running server; a revoked member's token and login
    cookie are refused (403, with a page saying so), and the websockets they opened before (the shared
    notebook's, their kernels') are closed with code ``REVOKED_CLOSE_CODE``, since a socket asks who its
    user is only when it opens. Members cannot rename themselves.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._path = Config.from_env().paths.mob_links
        self._seen: tuple[int, int, int] | None = None
        self._links = MobLinks()
        self._sockets: dict[str, weakref.WeakSet[websocket.WebSocketHandler]] = {}

    def links(self) -> MobLinks:
        """The links as they are on disk now; a member revoked since the last look loses their open sockets."""
        try:
            stat = self._path.stat()
            key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            key = None
        if key != self._seen:
            self._links = load_links(self._path) if key else MobLinks()
            self._seen = key
            for link in self._links.members:
                for handler in list(self._sockets.pop(link.username, ())) if link.revoked else ():
                    handler.close(REVOKED_CLOSE_CODE, f"{link.name}'s join link was revoked")
        return self._links

    def watch_revocations(self) -> None:
        """``links``, from a timer: a damaged links file is for the next request to report, not for every tick."""
        try:
            self.links()
        except KitError:
            pass

    def _member(self, link: JoinLink) -> User:
        index = next((i for i, m in enumerate(self.links().members) if m.username == link.username), 0)
        return User(link.username, link.name, link.name, link.initials, None,
                    f"var(--jp-collaborator-color{index % _COLORS + 1})")

    def _host(self) -> User:
        return User(HOST, "Host", "Host (kit lab --mob)", "H", None, None)

    def _for_token(self, handler: web.RequestHandler, token: str) -> User | None:
        if self.token and hmac.compare_digest(token.encode(), self.token.encode()):
            return self._host()
        link = self.links().by_secret(token)
        if link is not None and not link.revoked:
            return self._member(link)
        handler._kit_mob_refusal = (  # type: ignore[attr-defined]
            f"{link.name}'s join link was revoked. Ask whoever runs the mob's server for a new one "
            f"(`kit mob add {link.name}`)." if link is not None else
            "This join link does not belong to this mob's server. Ask whoever runs it for yours (`kit mob links`).")
        return None

    async def get_user_token(self, handler: web.RequestHandler) -> User | None:
        token = self.get_token(handler)
        return self._for_token(handler, token) if token else None

    def get_user_cookie(self, handler: web.RequestHandler) -> User | None:
        user = super().get_user_cookie(handler)
        if user is None or user.username == HOST:
            return user
        link = self.links().by_username(user.username)
        if link is not None and not link.revoked:
            return self._member(link)
        if link is not None:
            handler._kit_mob_refusal = (  # type: ignore[attr-defined]
                f"{link.name}'s join link was revoked, and with it this browser's login to the mob's server.")
        return None

    async def get_user(self, handler: web.RequestHandler) -> User | None:
        user = await super().get_user(handler)
        refusal = getattr(handler, "_kit_mob_refusal", None)
        if user is None and refusal:
            handler.current_user = None  # the error page asks who is logged in; nobody is
            raise web.HTTPError(403, refusal)  # shown as it is on the error page and in an API reply
        if user is not None and user.username != HOST and isinstance(handler, websocket.WebSocketHandler):
            self._sockets.setdefault(user.username, weakref.WeakSet()).add(handler)
        return user

    def process_login_form(self, handler: web.RequestHandler) -> User | None:
        """The login page also takes a member's secret (typed instead of opened as a link)."""
        typed = handler.get_argument("password", default="")
        link = self.links().by_secret(typed) if typed else None
        if link is not None and not link.revoked:
            return self._member(link)
        return super().process_login_form(handler)

    @default("updatable_fields")
    def _default_updatable_fields(self) -> list[str]:
        return ["color"]


class _RolesHandler(APIHandler):
    """``ROLES_PATH``: the role board as JSON, for the logged-in member (``you`` is their name)."""

    @web.authenticated
    def get(self) -> None:
        provider = self.identity_provider
        links = provider.links()
        link = links.by_username(self.current_user.username)
        try:
            session = load_session(self.settings["kit_mob_session"])
        except KitError as error:
            raise web.HTTPError(500, str(error)) from None
        board = role_board(session, links.names(), time.time())
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(board.to_json(link.name if link else None)))


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp) -> None:
    """Serve the roles, and keep the server's token out of the page every member loads (their cookie suffices)."""
    settings = serverapp.web_app.settings
    settings["kit_mob_session"] = default_path()
    earlier = settings.get("page_config_hook")

    def without_token(handler, page_config: dict) -> dict:
        page_config = earlier(handler, page_config) if earlier else page_config
        page_config["token"] = ""
        return page_config

    settings["page_config_hook"] = without_token
    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", [(f"{base.rstrip('/')}/{ROLES_PATH}", _RolesHandler)])
    provider = serverapp.identity_provider
    if isinstance(provider, MobIdentityProvider):  # a revoke closes sockets even while nobody sends a request
        settings["kit_mob_revocations"] = PeriodicCallback(provider.watch_revocations, 1000)
        settings["kit_mob_revocations"].start()
