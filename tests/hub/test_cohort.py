"""A cohort on one host, for real: JupyterHub (hub/jupyterhub_config.py), configurable-http-proxy, two learners.

One hub per module, on free ports, with the documented config loaded as it is and four settings changed for a
test: DummyAuthenticator with a password instead of system logins, and SimpleLocalProcessSpawner (every learner's
server as this same system user, each with a HOME of their own) instead of LocalProcessSpawner with system users,
because the repository and its virtual environment may sit where other users cannot read them (CI runs as root
under /root). Everything else is the production path: the pre-spawn hook, the port registry, `kit hub serve`
with the learner's sandbox, jupyter-server-proxy through the hub's proxy, the nbgrader exchange and `kit grade`.

The learners are real system accounts, made for the module and removed after it (with the test's own nftables
table), so the hook applies the learners' firewall for their uids as on a real host. Their servers and sandboxes
still run as the test's user (root, which the firewall lets through, as it lets the hub's own proxy through),
so what a learner's terminal would do is done explicitly: curl run as each learner's uid. Where the tests do not
run as root, no accounts can be made: the hub runs without a firewall and that one test is skipped.
"""

from __future__ import annotations

import csv
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
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

pytestmark = pytest.mark.long  # a hub, two learners' servers and sandboxes, a graded cohort: about a minute


class Hub:
    """The running hub: its URL, an admin API client, a logged-in browser-like client per learner."""

    def __init__(self, folder: Path, url: str, token: str) -> None:
        self.folder = folder
        self.url = url
        self.api = httpx.Client(base_url=f"{url}/hub/api", headers={"Authorization": f"token {token}"}, timeout=30)
        self.browsers: dict[str, httpx.Client] = {}
        self.exchange = Exchange(folder / "exchange", "dojo")
        self.registry = PortRegistry(folder / "state" / "kit-ports.json")

    def home(self, user: str) -> Path:
        return self.folder / "home" / user

    def config(self, user: str) -> Config:
        """The sandbox config the learner's server runs with: their registry block, their HOME's state folder."""
        block = self.registry.assign(user)
        state = self.home(user) / ".local" / "state" / "reliability-dojo"
        return Config.from_env(block.environment(), state_dir=str(state))

    def browser(self, user: str) -> httpx.Client:
        if user not in self.browsers:
            client = httpx.Client(base_url=self.url, follow_redirects=True, timeout=30)
            client.get("/hub/login").raise_for_status()  # sets the XSRF cookie the login form sends back
            form = {"username": user, "password": PASSWORD, "_xsrf": client.cookies["_xsrf"]}
            client.post("/hub/login", data=form).raise_for_status()
            self.browsers[user] = client
        return self.browsers[user]

    def server(self, user: str) -> dict | None:
        return self.api.get(f"/users/{user}").json()["servers"].get("")

    def close(self) -> None:
        for client in [self.api, *self.browsers.values()]:
            client.close()


@pytest.fixture(scope="module")
def accounts() -> dict[str, int]:
    """Each learner's uid: system accounts made for this module, removed after it with the test's firewall table,
    even when a test fails. None (and no firewall) where the tests do not run as root."""
    if os.geteuid() != 0:
        yield {}
        return
    made = []
    try:
        for user in USERS:
            done = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                                  capture_output=True, text=True)
            assert done.returncode == 0, f"useradd {user}: {done.stderr}"
            made.append(user)
        yield firewall.learner_uids(USERS)
    finally:
        try:
            firewall.remove(FIREWALL)
        finally:
            for user in made:
                subprocess.run(["userdel", user], capture_output=True)


@pytest.fixture(scope="module")
def hub(tmp_path_factory, accounts: dict[str, int]) -> Hub:
    if not PROXY.exists():
        pytest.fail(f"{PROXY} is missing: run scripts/system-packages.sh --test (it installs configurable-http-proxy)")
    folder = tmp_path_factory.mktemp("cohort")
    port, hub_port, api_port = procs.free_ports(3)
    token = secrets.token_hex(16)
    (folder / "exchange").mkdir()
    (folder / "jupyterhub_config.py").write_text(f"""
load_subconfig({str(REPO_ROOT / "hub" / "jupyterhub_config.py")!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.authenticator_class = "jupyterhub.auth.DummyAuthenticator"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allowed_users = {set(USERS)!r}
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = {str(folder / "home" / "{username}")!r}
c.JupyterHub.services = [{{"name": "cohort-test", "api_token": {token!r}}}]
c.JupyterHub.load_roles = [{{"name": "cohort-test", "scopes": ["admin:users", "admin:servers"],
                            "services": ["cohort-test"]}}]
""")
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIT_")}
    env.update(KIT_HUB_STATE=str(folder / "state"), KIT_HUB_EXCHANGE=str(folder / "exchange"), KIT_HUB_COURSE="dojo",
               KIT_HUB_FIREWALL=FIREWALL if accounts else "",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    log = folder / "jupyterhub.log"
    process = procs.start([sys.executable, "-m", "jupyterhub", "-f", str(folder / "jupyterhub_config.py")],
                          log=log, env=env, cwd=folder)
    running = Hub(folder, f"http://127.0.0.1:{port}", token)
    try:
        if not polling.wait_until(lambda: _answers(running), 60, 0.2):
            pytest.fail(f"JupyterHub did not answer within 60 s:\n{process.tail(30)}")
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
    """Until the learner's `kit hub serve` has brought their sandbox up: every process, target and rule."""
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


def _curl_as(uid: int, port: int, path: str) -> subprocess.CompletedProcess:
    """GET http://127.0.0.1:PORT/PATH as the system user ``uid``, as from that learner's terminal; stdout is the
    HTTP status (000 when no connection was made)."""
    return subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                           f"http://127.0.0.1:{port}{path}"], user=uid, group=pwd.getpwuid(uid).pw_gid,
                          extra_groups=[], cwd="/", capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(os.geteuid() != 0, reason="making learners' system accounts and a firewall needs root")
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


def test_release_fetch_submit_collect_grade(hub: Hub, tmp_path: Path):
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "tests" / "fixtures" / "grading" / "solutions", repo / "solutions")
    build_labs(root=repo)
    release(LAB, hub.exchange, root=repo)
    for user in USERS:  # what each learner types in their terminal: the hub set the exchange in their environment
        env = {**os.environ, "HOME": str(hub.home(user)), "JUPYTERHUB_USER": user,
               "KIT_HUB_EXCHANGE": str(hub.exchange.root), "KIT_HUB_COURSE": hub.exchange.course}
        kit = [sys.executable, "-m", "kit.cli", "hub"]
        fetched = subprocess.run([*kit, "fetch", LAB], cwd=hub.home(user), env=env, capture_output=True, text=True)
        assert fetched.returncode == 0, fetched.stderr
        if user == ALICE:
            make_submission(LAB, solution_answers(LAB, root=repo), hub.home(user) / LAB / f"{LAB}.ipynb", root=repo)
        submitted = subprocess.run([*kit, "submit", LAB], cwd=hub.home(user), env=env, capture_output=True, text=True)
        assert submitted.returncode == 0 and f"as {user}" in submitted.stdout, submitted.stderr
    collected = tmp_path / "submitted"
    done = subprocess.run([sys.executable, "-m", "kit.cli", "hub", "collect", LAB, "--exchange", str(hub.exchange.root),
                           "--course", hub.exchange.course, "--into", str(collected)], capture_output=True, text=True)
    assert done.returncode == 0 and f"kit grade {collected} --lab {LAB}" in done.stdout, done.stderr
    book = grade_cohort(collected, LAB, tmp_path / "gradebook.csv", root=repo, timeout=20)
    with open(book.csv, newline="") as fh:
        rows = {row["student"]: row for row in csv.DictReader(fh)}
    assert set(rows) == set(USERS)
    assert float(rows[ALICE]["total"]) == float(rows[ALICE]["max_total"]) > 0
    assert float(rows[BOB]["total"]) == 0


def test_a_learner_stopped_mid_drill_stops_cleanly_and_alone(hub: Hub):
    alice, bob = hub.config(ALICE), hub.config(BOB)
    _wait_sandbox(alice)
    _wait_sandbox(bob)
    env = {**os.environ, **alice.environment(), "HOME": str(hub.home(ALICE))}
    started = subprocess.run([sys.executable, "-m", "kit.cli", "drill", "start", "payments-down"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    record = SandboxRecord.load(alice.paths.sandbox_record)
    alices = [*record.processes.values(), *record.companions.values()]
    assert record.companions, "the drill attached no watcher"
    bobs = sorted(sandbox.pids(bob).values())

    assert hub.api.delete(f"/users/{ALICE}/server").status_code in (202, 204)
    assert polling.wait_until(lambda: hub.server(ALICE) is None, 60, 0.2), f"the hub did not stop {ALICE}'s server"
    assert polling.wait_until(lambda: not any(procs.alive(process) for process in alices), 10, 0.1)
    assert not alice.paths.sandbox_record.exists()
    assert sorted(sandbox.pids(bob).values()) == bobs and sandbox.is_up(bob)
    answer = hub.browser(BOB).get(f"/user/{BOB}/prometheus/api/v1/query", params={"query": "up"})
    assert answer.json()["status"] == "success"
