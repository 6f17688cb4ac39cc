"""A cohort on one host, for real: JupyterHub (hub/jupyterhub_config.py), configurable-http-proxy, two learners.

One hub per module, on free ports, with the documented config loaded as it is: only where the hub listens, and a
service token for the test, are set on top. The learners are system accounts made for the module, with a password
and a home folder: they log in through the hub's login form (the config's PAMAuthenticator), and the config's
LocalProcessSpawner starts each one's server (`kit hub serve`) as their own uid, so that server, their sandbox and its
processes, their files in the nbgrader exchange and the firewall's rules all see the learner's uid. What a learner
types in a terminal is run as their uid with their server's environment, as the hub set it.

A learner's server runs the test's interpreter, virtual environment and repository, which may sit where other users
cannot traverse (pyenv's Python under /root, mode 700, on CI). Those folders are opened to the two learners only, for
the module: each folder on the way that others may not traverse gets a POSIX ACL entry granting traverse (x) to each
learner's uid (``Traverse``), and exactly those entries are removed afterwards. Nothing is chmod-ed that the test did
not make; a file the learners would need to read but cannot fails the module, naming it. The homes and the exchange
are in a folder the test makes in the system's temporary folder, since pytest's own are its user's alone.

After the module, even when a test fails: the ACL entries, any process left running as a learner (a teardown
error), the accounts and their homes, and the test's own nftables table are removed. Making accounts, starting
servers as them and the firewall need root: elsewhere the module is skipped.
"""

from __future__ import annotations

import csv
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterable

import httpx
import psutil
import pytest

from kit import polling, procs, sandbox
from kit.config import REPO_ROOT, Config
from kit.grading.autograde import build_labs, grade_cohort, make_submission, solution_answers
from kit.hub import PORT_SETTINGS, Exchange, PortRegistry, firewall, release
from kit.sandbox.record import SandboxRecord

LAB = "99-fixture"
TAG = secrets.token_hex(3)
ALICE, BOB = f"dja{TAG}", f"djb{TAG}"  # real accounts while the module runs: unique, short (useradd takes 32)
USERS = (ALICE, BOB)
FIREWALL = f"dojo_test_{TAG}"  # the test's own nftables table, so no other hub's rules are touched
PASSWORD = "dojo-" + secrets.token_hex(4)
PROXY = REPO_ROOT / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"

pytestmark = [
    pytest.mark.long,  # a hub, two learners' servers and sandboxes, a graded cohort: about a minute
    pytest.mark.skipif(os.geteuid() != 0, reason="the learners are system accounts, whose servers the hub starts as "
                                                 "them behind its firewall: making them and running it needs root"),
]


class Hub:
    """The running hub: its URL, an admin API client, a logged-in browser-like client per learner."""

    def __init__(self, folder: Path, shared: Path, url: str, token: str) -> None:
        self.folder = folder
        self.shared = shared
        self.url = url
        self.api = httpx.Client(base_url=f"{url}/hub/api", headers={"Authorization": f"token {token}"}, timeout=30)
        self.browsers: dict[str, httpx.Client] = {}
        self.exchange = Exchange(shared / "exchange", "dojo")
        self.registry = PortRegistry(folder / "state" / "kit-ports.json")

    def home(self, user: str) -> Path:
        return self.shared / "home" / user

    def config(self, user: str) -> Config:
        """The sandbox config the learner's server runs with: their registry block, their HOME's state folder."""
        block = self.registry.assign(user)
        state = self.home(user) / ".local" / "state" / "reliability-dojo"
        return Config.from_env(block.environment(), state_dir=str(state))

    def browser(self, user: str) -> httpx.Client:
        """A client logged in as ``user`` through the hub's login form, with their system password (PAM)."""
        if user not in self.browsers:
            client = httpx.Client(base_url=self.url, follow_redirects=True, timeout=30)
            answer = _log_in(client, user)
            assert answer.status_code == 302, f"{user} could not log in: {answer.status_code}"
            self.browsers[user] = client
        return self.browsers[user]

    def server(self, user: str) -> dict | None:
        return self.api.get(f"/users/{user}").json()["servers"].get("")

    def server_process(self, user: str) -> psutil.Process:
        """The learner's single-user server (`kit hub serve` became it), from its spawner's state."""
        return psutil.Process(self.server(user)["state"]["pid"])

    def terminal_env(self, user: str) -> dict[str, str]:
        """The environment a terminal of the learner's server starts with: the one the hub gave the server."""
        return self.server_process(user).environ()

    def close(self) -> None:
        for client in [self.api, *self.browsers.values()]:
            client.close()


def _log_in(client: httpx.Client, user: str) -> httpx.Response:
    """The hub's answer to ``user``'s login form with their password: 302 when it lets them in (not followed, as it
    would start their server), 403 when it does not."""
    client.get("/hub/login").raise_for_status()  # sets the XSRF cookie the login form sends back
    form = {"username": user, "password": PASSWORD, "_xsrf": client.cookies["_xsrf"]}
    return client.post("/hub/login", data=form, follow_redirects=False)


class Traverse:
    """Traverse (x) on folders other users may not traverse, granted to a few uids by POSIX ACL entries, and taken
    back entry by entry.

    ``grant`` adds a ``user:UID:--x`` entry per uid to each folder (setfacl), which also gives the folder the mask
    entry an ACL with named entries needs, letting x through. ``revoke`` removes exactly those entries, then the mask
    from a folder that had none and has no named entry left, so the folder's ACL and mode are as they were.
    """

    def __init__(self) -> None:
        self.granted: list[tuple[Path, int]] = []
        self.masked: list[Path] = []

    def grant(self, folders: Iterable[Path], uids: Iterable[int]) -> None:
        uids = list(uids)
        for folder in folders:
            if not any(entry.startswith("mask:") for entry in _acl(folder)):
                self.masked.append(folder)
            for uid in uids:
                _setfacl(["-m", f"u:{uid}:x"], folder)
                self.granted.append((folder, uid))

    def revoke(self) -> list[str]:
        """Undo ``grant``; returns what could not be undone, after trying everything."""
        problems = []
        for folder, uid in reversed(self.granted):
            problems += _setfacl(["-x", f"u:{uid}"], folder, check=False)
        for folder in self.masked:
            if not any(re.match(r"(user|group):[^:]+:", entry) for entry in _acl(folder)):
                problems += _setfacl(["-x", "m::"], folder, check=False)
        return problems


def _acl(folder: Path) -> list[str]:
    """The folder's access ACL entries as getfacl writes them (``user:1001:--x``, ``mask::--x``), uids as numbers."""
    done = subprocess.run(["getfacl", "--absolute-names", "--omit-header", "--numeric", str(folder)],
                          capture_output=True, text=True)
    assert done.returncode == 0, f"getfacl {folder}: {done.stderr}"
    return [line for line in done.stdout.split() if not line.startswith(("default:", "#"))]


def _setfacl(arguments: list[str], folder: Path, *, check: bool = True) -> list[str]:
    done = subprocess.run(["setfacl", *arguments, str(folder)], capture_output=True, text=True)
    problem = [f"setfacl {' '.join(arguments)} {folder}: {done.stderr.strip()}"] if done.returncode else []
    assert not (check and problem), problem
    return problem


def _needed(shared: Path) -> list[Path]:
    """What a learner's server must reach: the interpreter (as the venv names it, and its real file), the venv, the
    Python the venv was made from, the repository, what PYTHONPATH adds (the hub passes it on), the shared folder."""
    paths = [Path(sys.executable), Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix), REPO_ROOT,
             shared, *(Path(entry) for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                       if entry and Path(entry).exists())]
    return [path.absolute() for path in paths]


def _closed_folders(paths: Iterable[Path]) -> list[Path]:
    """The folders on the way to ``paths`` (as given and with symlinks resolved) that others may not traverse
    (no x for others), from / down, each once."""
    found: list[Path] = []
    for path in paths:
        for folder in [*reversed(path.parents), *reversed(path.resolve().parents)]:
            if not folder.stat().st_mode & stat.S_IXOTH and folder not in found:
                found.append(folder)
    return found


def _unreadable(paths: Iterable[Path]) -> list[Path]:
    """Those of ``paths`` that other users cannot use: a folder they may not list and enter, a file they may not
    read, the interpreter if they may not run it."""
    def need(path: Path) -> int:
        if path.is_dir():
            return stat.S_IROTH | stat.S_IXOTH
        return stat.S_IROTH | (stat.S_IXOTH if path.resolve() == Path(sys.executable).resolve() else 0)

    return [path for path in paths if path.stat().st_mode & need(path) != need(path)]


def _running_as(uid: int) -> list[psutil.Process]:
    """Every process running with the real uid ``uid`` (a zombie its reaper has yet to collect has stopped)."""
    return [process for process in psutil.process_iter(["uids", "name"])
            if process.info["uids"] and process.info["uids"].real == uid and not procs.stopped(process)]


@pytest.fixture(scope="module")
def shared() -> Path:
    """The folder of what the learners and the hub share, as /home and /srv/nbgrader on a host: the learners' homes
    (``home/``) and the exchange (``exchange/``, beside it the hub writes ``jupyter/``). Made 755 in the system's
    temporary folder, as pytest's folders are its user's alone (700); removed after the module."""
    folder = Path(tempfile.mkdtemp(prefix="dojo-cohort-"))
    try:
        folder.chmod(0o755)
        (folder / "home").mkdir()
        (folder / "home").chmod(0o755)
        (folder / "exchange").mkdir()
        (folder / "exchange").chmod(0o1777)  # as hub/README.md's install makes /srv/nbgrader/exchange
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def accounts(shared: Path) -> dict[str, int]:
    """Each learner's uid: system accounts with the module's password and a home folder of their own (700), as
    hub/README.md's `adduser` makes them. After the module, even when a test fails: any process still running as a
    learner is stopped (and reported: the hub should have stopped them all), then the test's firewall table and the
    accounts are removed."""
    made: list[str] = []
    uids: dict[str, int] = {}
    try:
        for user in USERS:
            done = subprocess.run(["useradd", "--home-dir", str(shared / "home" / user), "--no-create-home",
                                   "--shell", "/bin/bash", user], capture_output=True, text=True)
            assert done.returncode == 0, f"useradd {user}: {done.stderr}"
            made.append(user)
            account = pwd.getpwnam(user)
            home = Path(account.pw_dir)
            home.mkdir()
            os.chown(home, account.pw_uid, account.pw_gid)
            home.chmod(0o700)
        done = subprocess.run(["chpasswd"], input="".join(f"{user}:{PASSWORD}\n" for user in USERS),
                              capture_output=True, text=True)
        assert done.returncode == 0, f"chpasswd: {done.stderr}"
        uids = firewall.learner_uids(USERS)
        yield uids
    finally:
        left = [process for uid in uids.values() for process in _running_as(uid)]
        problems = [f"{process.info['name']} (pid {process.pid}) still ran as a learner after the hub stopped"
                    for process in left]
        for process in left:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        procs.wait_stopped(left, 5)
        try:
            firewall.remove(FIREWALL)
        finally:
            for user in made:
                done = subprocess.run(["userdel", user], capture_output=True, text=True)
                if done.returncode:
                    problems.append(f"userdel {user}: {done.stderr.strip()}")
        assert not problems, problems


@pytest.fixture(scope="module")
def reachable(shared: Path, accounts: dict[str, int]) -> list[Path]:
    """The folders opened to the learners (traverse, by ACL entries for their uids) so that their servers can run
    this interpreter, venv and repository; the entries are removed after the module, even when a test fails."""
    needed = _needed(shared)
    unreadable = _unreadable(needed)
    if unreadable:
        pytest.fail(f"other users cannot read {', '.join(map(str, unreadable))}, which the learners' servers run: "
                    "use a checkout and an interpreter every user may read (chmod o+rX), as on a real host")
    folders = _closed_folders(needed)
    if folders and shutil.which("setfacl") is None:
        pytest.fail(f"setfacl is missing, which opens {', '.join(map(str, folders))} to the learners: run "
                    "scripts/system-packages.sh --test (it installs the acl package)")
    grants = Traverse()
    try:
        grants.grant(folders, accounts.values())
        yield folders
    finally:
        problems = grants.revoke()
        assert not problems, problems


@pytest.fixture(scope="module")
def hub(tmp_path_factory, shared: Path, accounts: dict[str, int], reachable: list[Path]) -> Hub:
    """The hub with the documented config, its state in a folder of the test's own (as /srv/jupyterhub, the hub's
    alone), both learners added by the facilitator (the API /hub/admin uses) and logged in, their servers started."""
    if not PROXY.exists():
        pytest.fail(f"{PROXY} is missing: run scripts/system-packages.sh --test (it installs configurable-http-proxy)")
    folder = tmp_path_factory.mktemp("cohort")
    port, hub_port, api_port = procs.free_ports(3)
    token = secrets.token_hex(16)
    (folder / "jupyterhub_config.py").write_text(f"""
load_subconfig({str(REPO_ROOT / "hub" / "jupyterhub_config.py")!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.services = [{{"name": "cohort-test", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "cohort-test", "scopes": ["admin:users", "admin:servers", "read:hub"],
                            "services": ["cohort-test"]}}]
""")
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIT_")}
    env.update(KIT_HUB_STATE=str(folder / "state"), KIT_HUB_EXCHANGE=str(shared / "exchange"), KIT_HUB_COURSE="dojo",
               KIT_HUB_FIREWALL=FIREWALL, PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    log = folder / "jupyterhub.log"
    process = procs.start([sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
                          log=log, env=env, cwd=folder)
    running = Hub(folder, shared, f"http://127.0.0.1:{port}", token)
    try:
        if not polling.wait_until(lambda: _answers(running), 60, 0.2):
            pytest.fail(f"JupyterHub did not answer within 60 s:\n{process.tail(30)}")
        info = running.api.get("/info").json()
        assert (info["authenticator"]["class"], info["spawner"]["class"]) == (
            "jupyterhub.auth.PAMAuthenticator", "jupyterhub.spawner.LocalProcessSpawner"), info
        # The config lets in the users the hub knows (allow_existing_users): a system account is not enough until
        # a facilitator adds the learners (Admin, Add Users).
        with httpx.Client(base_url=running.url, timeout=30) as client:
            assert _log_in(client, ALICE).status_code == 403
        running.api.post("/users", json={"usernames": list(USERS)}).raise_for_status()
        for user in USERS:
            running.browser(user)
        for user in USERS:  # both at once, as a cohort logging in at the start of a workshop
            running.api.post(f"/users/{user}/server").raise_for_status()
        for user in USERS:
            if not polling.wait_until(lambda: (running.server(user) or {}).get("ready"), 60, 0.2):
                pytest.fail(f"{user}'s server did not become ready:\n{process.tail(40)}")
        yield running
    finally:
        running.close()
        process.popen.send_signal(signal.SIGTERM)  # the hub stops every learner's server, which stops its sandbox
        if process.wait(30) is None:
            process.stop()
        for user in USERS:
            sandbox.down(running.config(user))
        procs.stop_naming(folder)


def _answers(hub: Hub) -> bool:
    try:
        return hub.api.get("/").status_code == 200
    except httpx.HTTPError:
        return False


def _wait_sandbox(config: Config) -> None:
    """Until the learner's server has brought their sandbox up: every process, target and rule."""
    assert polling.wait_until(lambda: sandbox.status(config).state == "healthy", 60, 0.2), \
        sandbox.status(config).problems()


def test_both_sandboxes_are_healthy_at_once_on_their_own_ports(hub: Hub):
    configs = {user: hub.config(user) for user in USERS}
    for config in configs.values():
        _wait_sandbox(config)
    ports = [{getattr(c, s) for s in PORT_SETTINGS} for c in configs.values()]
    assert len(ports[0]) == len(ports[1]) == len(PORT_SETTINGS) and ports[0].isdisjoint(ports[1])
    for user, config in configs.items():
        status = sandbox.status(config)
        assert status.healthy, (user, status.problems())
        assert {p.name for p in status.processes if p.healthy} >= {"shop", "prometheus", "alertmanager"}


def test_each_learners_server_and_sandbox_run_as_that_learner(hub: Hub, accounts: dict[str, int]):
    for user in USERS:
        config = hub.config(user)
        _wait_sandbox(config)
        account = pwd.getpwnam(user)
        server = hub.server_process(user)
        sandboxed = sandbox.pids(config)
        assert {"shop", "prometheus", "alertmanager"} <= set(sandboxed), sandboxed
        processes = {p.pid: p for p in [server, *server.children(recursive=True)]}
        processes.update((pid, psutil.Process(pid)) for pid in sandboxed.values())
        assert any("jupyterhub.singleuser" in p.cmdline() for p in processes.values())
        owners = {(p.pid, p.name()): (*p.uids(), *p.gids()) for p in processes.values()}  # real, effective, saved
        assert set(owners.values()) == {(accounts[user],) * 3 + (account.pw_gid,) * 3}, (user, owners)
        assert server.environ()["HOME"] == account.pw_dir == str(hub.home(user)) and server.cwd() == account.pw_dir
        strangers = [path for path in hub.home(user).rglob("*") if path.lstat().st_uid != accounts[user]]
        assert not strangers, f"in {user}'s home, owned by someone else: {strangers[:5]}"


def test_each_learner_reaches_their_own_ui_and_only_theirs(hub: Hub):
    alice = hub.config(ALICE)
    _wait_sandbox(alice)
    browser = hub.browser(ALICE)
    page = browser.get(f"/user/{ALICE}/prometheus/")
    assert page.status_code == 200 and "Prometheus" in page.text
    assert f'PATH_PREFIX = "/user/{ALICE}/prometheus"' in page.text
    assets = re.findall(rf'(?:src|href)="(/user/{ALICE}/prometheus/classic/static/[^"?]+)', page.text)
    for asset in sorted(set(assets)):
        assert browser.get(asset).status_code == 200, asset
    query = browser.get(f"/user/{ALICE}/prometheus/api/v1/query", params={"query": "up"}).json()
    instances = {row["metric"]["instance"] for row in query["data"]["result"]}
    shop = alice.shop_stable_port  # Prometheus scrapes the shop process itself, not HAProxy in front of it
    assert f"127.0.0.1:{shop}" in instances or f"localhost:{shop}" in instances, instances
    assert browser.get(f"/user/{ALICE}/alertmanager/api/v2/status").json()["cluster"]["status"] == "disabled"
    docs = browser.get(f"/user/{ALICE}/shop/docs")
    assert docs.status_code == 200 and f"/user/{ALICE}/shop/openapi.json" in docs.text
    script = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', docs.text).group(1)  # served by the shop, no CDN
    assert script.startswith(f"/user/{ALICE}/shop/") and browser.get(script).status_code == 200
    assert browser.get(f"/user/{ALICE}/shop/openapi.json").json()["servers"] == [{"url": f"/user/{ALICE}/shop"}]
    # a learner's server: nbgrader's Assignments tab, without the formgrader and course list of whoever grades
    listed = browser.get(f"/user/{ALICE}/assignments", params={"course_id": hub.exchange.course})
    assert listed.status_code == 200 and listed.json()["success"], listed.text
    assert browser.get(f"/user/{ALICE}/formgrader").status_code == 404
    lab = browser.get(f"/user/{ALICE}/lab")
    page_config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', lab.text, re.S).group(1))
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(
        page_config["disabledExtensions"]), "the learner's JupyterLab still offers the formgrader"
    entries = browser.get(f"/user/{ALICE}/server-proxy/servers-info").json()["server_processes"]
    assert {(e["name"], e["launcher_entry"]["title"]) for e in entries} >= {
        ("prometheus", "Prometheus"), ("alertmanager", "Alertmanager"), ("shop", "Shop API docs")}
    # an alert as Prometheus sends it, its source under Prometheus's default external URL (the host's name)
    source = f"http://{socket.gethostname()}:{alice.prometheus_port}/graph?g0.expr=vector%281%29&g0.tab=1"
    sent = httpx.post(f"{alice.url('alertmanager')}/api/v2/alerts", timeout=10.0,
                      json=[{"labels": {"alertname": "LinkCheck", "severity": "ticket"}, "generatorURL": source}])
    assert sent.status_code == 200, sent.text
    alerts = browser.get(f"/user/{ALICE}/alertmanager/api/v2/alerts", params={"filter": 'alertname="LinkCheck"'})
    link = alerts.json()[0]["generatorURL"]
    assert link == f"/user/{ALICE}/prometheus/graph?g0.expr=vector%281%29&g0.tab=1", link
    assert browser.get(link).status_code == 200  # the learner's own Prometheus, through the hub

    refused = hub.browser(BOB).get(f"/user/{ALICE}/prometheus/api/v1/query", params={"query": "up"})
    assert refused.status_code == 403, refused.status_code
    assert "success" not in refused.text and ALICE in refused.text
    bob = hub.config(BOB)
    for other in (f"/user/{BOB}/proxy/{alice.prometheus_port}/",
                  f"/user/{BOB}/proxy/127.0.0.1:{alice.prometheus_port}/",
                  f"/user/{BOB}/proxy/absolute/{alice.prometheus_port}/", f"/user/{BOB}/proxy/{bob.prometheus_port}/"):
        assert hub.browser(BOB).get(other).status_code == 404, f"{other} reaches a port by number"
    nobody = httpx.get(f"{hub.url}/user/{ALICE}/prometheus/", follow_redirects=True)
    assert nobody.url.path == "/hub/login" and "Prometheus" not in nobody.text


def _as_learner(uid: int, argv: list[str], **options) -> subprocess.CompletedProcess:
    """``argv`` run as the system user ``uid`` (their group, no other), as from that learner's terminal."""
    return subprocess.run(argv, user=uid, group=pwd.getpwuid(uid).pw_gid, extra_groups=[], capture_output=True,
                          text=True, **options)


def _curl_as(uid: int, port: int, path: str) -> subprocess.CompletedProcess:
    """GET http://127.0.0.1:PORT/PATH as the system user ``uid``, as from that learner's terminal; stdout is the
    HTTP status (000 when no connection was made)."""
    return _as_learner(uid, ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                             f"http://127.0.0.1:{port}{path}"], cwd="/", timeout=30)


def test_from_a_terminal_a_learner_reaches_their_own_sandbox_and_not_the_others(hub: Hub, accounts: dict[str, int]):
    configs = {user: hub.config(user) for user in USERS}
    for config in configs.values():
        _wait_sandbox(config)
    for user, other in ((ALICE, BOB), (BOB, ALICE)):
        own, theirs = configs[user], configs[other]
        ready = _curl_as(accounts[user], own.prometheus_port, "/-/ready")
        assert (ready.returncode, ready.stdout) == (0, "200"), (user, ready.stderr)
        docs = _curl_as(accounts[user], own.shop_port, "/docs")
        assert (docs.returncode, docs.stdout) == (0, "200"), (user, docs.stderr)
        for port in (theirs.prometheus_port, theirs.shop_port):
            refused = _curl_as(accounts[user], port, "/")
            # curl's exit status 7: no connection (the firewall's TCP reset), while root's connection is answered.
            assert (refused.returncode, refused.stdout) == (7, "000"), (user, port, refused.stderr)
            assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code < 500


def test_release_fetch_submit_collect_grade(hub: Hub, accounts: dict[str, int], tmp_path: Path):
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "grading" / "solutions", repo / "solutions")
    build_labs(root=repo)
    release(LAB, hub.exchange, root=repo)
    kit = [sys.executable, "-m", "kit.cli", "hub"]
    for user in USERS:  # what each learner types in their terminal: the hub set the exchange in their environment
        home, env = hub.home(user), hub.terminal_env(user)
        fetched = _as_learner(accounts[user], [*kit, "fetch", LAB], cwd=home, env=env)
        assert fetched.returncode == 0, fetched.stderr
        notebook = home / LAB / f"{LAB}.ipynb"
        assert notebook.stat().st_uid == accounts[user]
        if user == ALICE:  # her answers, written into her own copy (it stays hers)
            make_submission(LAB, solution_answers(LAB, root=repo), notebook, root=repo)
        submitted = _as_learner(accounts[user], [*kit, "submit", LAB], cwd=home, env=env)
        assert submitted.returncode == 0 and f"as {user}" in submitted.stdout, submitted.stderr
    inbound = {path.name.split("+")[0]: path.stat().st_uid for path in hub.exchange.root.glob("dojo/inbound/*")}
    assert inbound == {user: accounts[user] for user in USERS}
    collected = tmp_path / "submitted"
    done = subprocess.run([*kit, "collect", LAB, "--exchange", str(hub.exchange.root), "--course", hub.exchange.course,
                           "--into", str(collected)], capture_output=True, text=True)
    assert done.returncode == 0 and f"kit grade {collected} --lab {LAB}" in done.stdout, done.stderr
    assert "warning" not in done.stderr, done.stderr  # nbgrader's owner check: each submission is its learner's
    book = grade_cohort(collected, LAB, tmp_path / "gradebook.csv", root=repo, timeout=20)
    with open(book.csv, newline="") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert set(rows) == set(USERS)
    assert float(rows[ALICE]["total"]) == float(rows[ALICE]["max_total"]) > 0
    assert float(rows[BOB]["total"]) == 0


def test_a_learner_stopped_mid_drill_stops_cleanly_and_alone(hub: Hub, accounts: dict[str, int]):
    alice, bob = hub.config(ALICE), hub.config(BOB)
    _wait_sandbox(alice)
    _wait_sandbox(bob)
    started = _as_learner(accounts[ALICE], [sys.executable, "-m", "kit.cli", "drill", "start", "payments-down"],
                          cwd=hub.home(ALICE), env=hub.terminal_env(ALICE), timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    record = SandboxRecord.load(alice.paths.sandbox_record)
    alices = [*record.processes.values(), *record.companions.values()]
    assert record.companions, "the drill attached no watcher"
    bobs = sorted(sandbox.pids(bob).values())
    bobs_server = hub.server_process(BOB)

    assert hub.api.delete(f"/users/{ALICE}/server").status_code in (202, 204)
    assert polling.wait_until(lambda: hub.server(ALICE) is None, 60, 0.2), f"the hub did not stop {ALICE}'s server"
    assert polling.wait_until(lambda: not any(procs.alive(process) for process in alices), 10, 0.1)
    assert polling.wait_until(lambda: not _running_as(accounts[ALICE]), 10, 0.1), _running_as(accounts[ALICE])
    assert not alice.paths.sandbox_record.exists()
    assert sorted(sandbox.pids(bob).values()) == bobs and sandbox.is_up(bob)
    assert hub.server_process(BOB) == bobs_server and bobs_server.is_running()
    answer = hub.browser(BOB).get(f"/user/{BOB}/prometheus/api/v1/query", params={"query": "up"})
    assert answer.json()["status"] == "success"
