"""A mob in one notebook (`kit lab --mob`): join links, names, roles and one shared notebook, in a real browser.

One mob server (JupyterLab with the launch `kit lab --mob --lan` builds, without a sandbox of its own) serves
the browser tests of this file, in the order they are written: three members open one notebook, work it, the
timer rotates, nbgrader validates what they wrote, then one member is revoked. Last, a member joins from a
second machine (a network namespace, tests/netns.py) and reaches the session's test sandbox through the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import nbformat
import netns
import pytest
from jupyterpages import CHROMIUM_FLAGS, new_page

from kit import lan, labserver, localhttp, mobrecord, mobserver, procs
from kit.config import PORTS, REPO_ROOT, Config
from kit.errors import InvalidInput, KitError
from kit.mob import MobPlan, MobSession

ROSTER = ("Ada", "Grace", "Linus")
WAIT = 20_000
"""Milliseconds for a change to reach another browser (generous: the machine is shared; the benchmark measures)."""
LAB_SETTINGS = {"@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"}}


# --- the links and the role board, without a server ----------------------------------------------------------

def test_links_survive_a_reload_and_a_revoked_name_keeps_its_refusal(tmp_path):
    path = tmp_path / "links.json"
    first = mobserver.ensure_links(path, ("Ana", "Ben"), base_url="http://127.0.0.1:8888", opens="00/00.ipynb")
    again = mobserver.ensure_links(path, ("Ana", "Ben", "Cy"), base_url="http://127.0.0.1:8888", opens="00/00.ipynb")
    assert again.members[:2] == first.members and again.names() == ("Ana", "Ben", "Cy")
    assert oct(path.stat().st_mode & 0o777) == "0o600", "the file holds every member's secret"
    ana = first.active("Ana")
    assert again.url(ana) == f"http://127.0.0.1:8888/lab/tree/00/00.ipynb?token={ana.secret}"

    assert mobserver.revoke(path, "ana").revoked
    after = mobserver.ensure_links(path, ("Ana", "Ben"), base_url="http://127.0.0.1:9999", opens=None)
    assert after.by_secret(ana.secret).revoked and after.active("Ana") is None, "a restart must not undo a revoke"
    with pytest.raises(InvalidInput, match="'Ana' has no working join link; members with one: Ben, Cy"):
        mobserver.revoke(path, "Ana")
    new = mobserver.add_member(path, "Ana")
    assert new.secret != ana.secret and new.username != ana.username
    with pytest.raises(InvalidInput, match="Ana already has a working join link"):
        mobserver.add_member(path, "ana")

    path.write_text('{"version": 1, "members": "everyone"}')
    with pytest.raises(KitError, match="damaged .*delete it"):
        mobserver.load_links(path)


def test_the_roster_comes_from_the_flag_then_the_timer_and_bad_names_are_refused(tmp_path):
    config = Config.from_env({"KIT_STATE_DIR": str(tmp_path)})
    with pytest.raises(InvalidInput, match="--roster: the mob has no roster yet"):
        mobserver.roster(config)
    assert mobserver.roster(config, " Ana, Ben ,Cy") == ("Ana", "Ben", "Cy")
    with pytest.raises(InvalidInput, match="appears twice"):
        mobserver.roster(config, "Ana,ana")
    with pytest.raises(InvalidInput, match="at least 2"):
        mobserver.roster(config, "Ana")
    config.paths.mob_session.write_text(json.dumps(MobSession(MobPlan(("Zoe", "Yan"))).to_json()))
    assert mobserver.roster(config) == ("Zoe", "Yan")


def test_the_role_board_follows_the_timer_and_lists_members_outside_the_rotation():
    plan = MobPlan(("Ada", "Grace", "Linus", "Mia"), turn_minutes=5, break_every=0)
    assert mobserver.role_board(None, ("Ada", "Bo"), 0.0).members == (("Ada", ""), ("Bo", ""))
    session = MobSession(plan).start(1000.0)
    board = mobserver.role_board(session, ("Ada", "Bo"), 1000.0 + 5 * 60 + 30)
    assert board.members == (("Ada", ""), ("Grace", "driver"), ("Linus", "navigator"), ("Mia", "next"), ("Bo", ""))
    assert (board.state, board.clock, board.turn) == ("running", "4:30", 1)
    assert mobserver.role_board(session.pause(1100.0), (), 1200.0).state == "paused"


# --- one mob server, three browsers ---------------------------------------------------------------------------

@dataclass
class MobServer:
    process: subprocess.Popen
    base: str
    port: int
    token: str
    config: Config
    env: dict[str, str]
    log: Path
    shots: Path

    def links(self) -> mobserver.MobLinks:
        return mobserver.load_links(self.config.paths.mob_links)

    def member_url(self, name: str, notebook: str) -> str:
        """The member's join link, onto ``notebook`` in a fresh workspace of their own."""
        link = self.links().active(name)
        return f"{self.base}/lab/workspaces/{name}/tree/{notebook}?reset&token={link.secret}"

    def why(self, message: str) -> str:
        tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
        return f"{message}\nscreenshots: {self.shots}\nJupyterLab's log:\n{tail}"


def _notebook(path: Path, *cells) -> None:
    notebook = nbformat.v4.new_notebook(cells=list(cells))
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)


def _graded(source: str, grade_id: str, *, solution: bool, points: int = 0) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": not solution, "solution": solution, "locked": not solution,
                                 "grade_id": grade_id, "schema_version": 3, **({} if solution else {"points": points})}
    return cell


@pytest.fixture(scope="module")
def mob(tmp_path_factory) -> MobServer:
    tmp = tmp_path_factory.mktemp("mob")
    token = "host-" + os.urandom(8).hex()
    env = {**os.environ, "KIT_STATE_DIR": str(tmp / "state"), "JUPYTER_TOKEN": token,
           "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"), "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"), "IPYTHONDIR": str(tmp / "ipython"),
           "MPLCONFIGDIR": str(tmp / "matplotlib"), "PYTHONUNBUFFERED": "1"}
    env.pop("KIT_WORK_DIR", None)
    for name, values in LAB_SETTINGS.items():
        settings = tmp / "jupyter-config" / "lab" / "user-settings" / f"{name}.jupyterlab-settings"
        settings.parent.mkdir(parents=True)
        settings.write_text(json.dumps(values))
    config = Config.from_env(env)
    config.work.mkdir(parents=True)
    _notebook(config.work / "mob.ipynb", nbformat.v4.new_code_cell("print('the mob starts here')"),
              nbformat.v4.new_code_cell(f"import kit\nkit.MobTimer(roster={list(ROSTER)!r}, sound=False)"))
    _notebook(config.work / "squares.ipynb",
              _graded("def square(x):\n    raise NotImplementedError()", "square", solution=True),
              _graded("assert square(3) == 9", "square-test", solution=False, points=1))
    port = procs.free_port()
    # a root without labs: the server opens no lab of its own, the members open mob.ipynb; on every address, as
    # with --lan, for the member on a second machine (the others use loopback)
    launch = labserver.settings(config, port=port, browser=False, env=env, collaborate=True, root=tmp, lan=True)
    labserver.write_page_config(launch)
    launch = mobserver.collaborative(launch, config)
    mobserver.ensure_links(config.paths.mob_links, ROSTER, base_url=f"http://127.0.0.1:{port}", opens="mob.ipynb")
    log = tmp / "jupyterlab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(procs.tethered(launch.argv), cwd=launch.root_dir, env=launch.env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = MobServer(process, f"http://127.0.0.1:{port}", port, token, config, env, log, tmp)
    try:
        def serving() -> bool:
            assert process.poll() is None, server.why(f"JupyterLab exited with {process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                return localhttp.client().get(f"{server.base}/api/status", timeout=1.0,
                                              headers={"Authorization": f"token {token}"}).status_code == 200
            return False

        assert procs.wait_until(serving, timeout=60, interval=0.2), server.why("JupyterLab never answered")
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # Jupyter shuts its kernels down on SIGTERM
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture(scope="module")
def playwright_api():
    """One Playwright for the file (its sync API allows one at a time in a thread), shared by the browsers."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def members(mob: MobServer, playwright_api):
    """Each roster member in a browser of their own (own cookies), on mob.ipynb with its kernel connected."""
    from playwright.sync_api import expect

    browser = playwright_api.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
    pages = {}
    try:
        for name in ROSTER:
            page = new_page(browser.new_context(viewport={"width": 1400, "height": 900}))
            page.set_default_timeout(WAIT)
            page.goto(mob.member_url(name, "mob.ipynb"))
            pages[name] = page
        for name, page in pages.items():
            expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first).to_be_visible(
                timeout=60_000)
            # a cell run before the kernel is connected is silently dropped
            idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\(ipykernel\) \| Idle"))
            expect(idle).to_be_visible(timeout=60_000)
        yield pages
    except Exception as error:
        for name, page in pages.items():
            page.screenshot(path=str(mob.shots / f"{name}.png"))
        raise AssertionError(mob.why(f"browser step failed: {error}")) from error
    finally:
        browser.close()


def _cells(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell")


def _type_and_run(page, cell, code: str) -> None:
    cell.locator(".cm-content").click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")


def test_members_log_in_under_their_own_names_and_the_page_holds_no_server_token(mob, members):
    for name, page in members.items():
        me = page.evaluate("fetch('/api/me').then(r => r.json())")["identity"]
        assert (me["name"], me["display_name"], me["initials"]) == (name, name, name[:2].upper()), me
        assert json.loads(page.locator("#jupyter-config-data").text_content())["token"] == "", \
            "the server's token in the page would let any member log in as the host"
        you = page.locator(".kit-mob-roles .kit-mob-member[data-you]")
        assert you.get_attribute("data-name", timeout=WAIT) == name
    renamed = members["Ada"].evaluate("""fetch('/api/me', {method: 'PATCH', headers: {'Content-Type': 'application/json',
        'X-XSRFToken': document.cookie.match(/_xsrf=([^;]+)/)[1]}, body: JSON.stringify({display_name: 'Grace'})})
        .then(r => r.status)""")
    assert renamed == 400, "a member must not take another's name"


def test_one_member_types_and_runs_a_cell_and_the_others_see_the_code_and_its_output(mob, members):
    from playwright.sync_api import expect

    ada = members["Ada"]
    _type_and_run(ada, _cells(ada).nth(0), "print(6 * 7, 'from Ada')")
    for name in ("Grace", "Linus"):
        cell = _cells(members[name]).nth(0)
        expect(cell.locator(".cm-content")).to_contain_text("print(6 * 7, 'from Ada')")
        expect(cell.locator(".jp-OutputArea")).to_contain_text("42 from Ada")


def test_the_roles_show_for_every_member_and_the_timer_rotates_for_everyone(mob, members):
    from playwright.sync_api import expect

    ada = members["Ada"]
    timer_cell = _cells(ada).nth(1)
    timer_cell.locator(".cm-content").click()
    ada.keyboard.press("Shift+Enter")
    timer = timer_cell.locator(".kit-mob-timer")
    timer.get_by_role("button", name="Start").click()
    expected = {"Ada": "driver", "Grace": "navigator", "Linus": "next"}
    for page in members.values():
        board = page.locator(".kit-mob-roles")
        expect(board).to_have_attribute("data-state", "running")
        for name, role in expected.items():
            expect(board.locator(f".kit-mob-member[data-name={name}]")).to_have_attribute("data-role", role)
    timer.get_by_role("button", name="Skip (rotate now)").click()
    for page in members.values():
        board = page.locator(".kit-mob-roles")
        expect(board).to_have_attribute("data-turn", "1")
        expect(board.locator(".kit-mob-member[data-role=driver]")).to_have_text("Gracedriver")
        expect(board.locator(".kit-mob-member[data-role=navigator]")).to_have_text("Linusnavigator")
        expect(board.locator(".kit-mob-member[data-role=next]")).to_have_text("Adanext")


def test_a_snapshot_restored_while_the_mob_has_the_notebook_open_reaches_every_browser(mob, members):
    """`kit mob restore` writes the file under the collaboration server, which must take the file as the shared
    document (an out-of-band change) rather than save its own copy of the document over it."""
    from playwright.sync_api import expect

    path = mob.config.work / "mob.ipynb"
    taken = [s for s in mobrecord.list_snapshots(mobrecord.snapshots_dir(mob.config.paths.mob_session))
             if Path(s.notebook) == path and "from Ada" in s.path.read_text(encoding="utf-8")]
    assert taken, "the rotation took no snapshot of mob.ipynb with Ada's cell"
    ada, grace = members["Ada"], members["Grace"]
    _type_and_run(ada, _cells(ada).nth(0), "print('lost in a long disconnect')")

    def on_disk(*wanted: str, unwanted: str = "") -> bool:
        text = path.read_text(encoding="utf-8")
        return all(w in text for w in wanted) and not (unwanted and unwanted in text)

    assert procs.wait_until(lambda: on_disk("lost in a long"), timeout=20, interval=0.2), mob.why("never saved")
    restore = subprocess.run([sys.executable, "-m", "kit.cli", "mob", "restore", str(taken[-1].number)],
                             env=mob.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    for page in members.values():
        expect(_cells(page).nth(0).locator(".cm-content")).to_contain_text("'from Ada'")
    _cells(grace).nth(0).locator(".cm-content").click()  # the mob goes on in a new cell, and it saves
    for key in ("Escape", "b", "Enter"):
        grace.keyboard.press(key)
    grace.keyboard.insert_text("print('after the restore')")
    grace.keyboard.press("Shift+Enter")
    assert procs.wait_until(lambda: on_disk("after the restore", "from Ada", unwanted="lost in a long"), timeout=20,
                            interval=0.2), mob.why("the restored notebook was not what the server saved next")


def test_nbgrader_validates_the_notebook_the_mob_wrote_together(mob, members):
    """The notebook on disk is what the collaboration server saved from the shared document."""
    from playwright.sync_api import expect

    grace, path = members["Grace"], mob.config.work / "squares.ipynb"
    grace.goto(mob.member_url("Grace", "squares.ipynb"))
    answer = _cells(grace).nth(0)
    expect(answer.locator(".cm-content")).to_contain_text("NotImplementedError", timeout=60_000)
    answer.locator(".cm-content").click()
    grace.keyboard.press("ControlOrMeta+a")
    grace.keyboard.insert_text("def square(x):\n    return x * x")

    def saved() -> bool:
        return "return x * x" in path.read_text(encoding="utf-8")

    assert procs.wait_until(saved, timeout=20, interval=0.2), mob.why("the collaboration server never saved the edit")
    cells = nbformat.read(path, as_version=4).cells
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells] == ["square", "square-test"]
    run = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)], cwd=mob.config.work,
                         env=mob.env, capture_output=True, text=True, timeout=120)
    assert "Success! Your notebook passes all the tests." in run.stdout, run.stdout + run.stderr


def test_a_revoked_member_is_refused_at_once_and_an_unknown_link_too(mob, members):
    from playwright.sync_api import expect

    linus = members["Linus"]
    secret = mob.links().active("Linus").secret
    # a socket asks who its user is only when it opens: one opened before the revoke must be closed by it
    linus.evaluate("""url => new Promise((opened, failed) => {
        window.kitSocket = new WebSocket(url);
        window.kitSocket.onopen = opened;
        window.kitSocket.onerror = failed;
        window.kitSocket.onclose = event => { window.kitSocketClosed = event.code; };
    })""", f"{mob.base.replace('http', 'ws', 1)}/api/events/subscribe")
    revoke = subprocess.run([sys.executable, "-m", "kit.cli", "mob", "revoke", "Linus"], env=mob.env, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60)
    assert revoke.returncode == 0, revoke.stderr
    # the roles poll is refused first (and the server clears the dead cookie), then everything else is
    expect(linus.locator(".kit-mob-roles")).to_contain_text("your mob login was revoked")
    linus.wait_for_function(f"window.kitSocketClosed === {mobserver.REVOKED_CLOSE_CODE}", timeout=10_000)
    assert linus.request.get(f"{mob.base}/api/contents/mob.ipynb").status == 403, "Linus's login still works"
    refused = linus.goto(f"{mob.base}/lab?token={secret}")
    assert refused.status == 403
    expect(linus.locator("body")).to_contain_text("Linus's join link was revoked")
    linus.goto(f"{mob.base}/lab?token=not-a-member")
    expect(linus.locator("body")).to_contain_text("does not belong to this mob's server")
    assert members["Ada"].request.get(f"{mob.base}/api/contents/mob.ipynb").status == 200, "others must stay in"


def test_a_second_mob_server_on_the_busy_port_is_refused_and_nothing_is_lost(mob):
    before = mob.config.paths.mob_links.read_bytes()
    second = subprocess.run([sys.executable, "-m", "kit.cli", "lab", "--mob", "--roster", "Ann,Bob", "--no-browser",
                             "--port", str(mob.port)], env=mob.env, cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"--port: {mob.port} cannot be used" in second.stderr and "mob server already running" in second.stderr
    assert "sandbox" not in second.stdout, "nothing may start before the port is known to be free"
    assert mob.config.paths.mob_links.read_bytes() == before
    assert mob.process.poll() is None
    reply = httpx.get(f"{mob.base}/api/status", headers={"Authorization": f"token {mob.token}"}, timeout=5)
    assert reply.status_code == 200


# --- a member on another machine (--lan) ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def second_machine():
    reason = netns.unavailable()
    if reason:
        pytest.skip(reason)
    with contextlib.ExitStack() as made:
        try:
            machine = made.enter_context(netns.second_machine())
        except PermissionError as refused:
            pytest.skip(str(refused))
        yield machine


def _listens(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(3.0)
        return probe.connect_ex((host, port)) == 0


def test_a_member_on_another_machine_joins_by_the_printed_link_and_reaches_the_sandbox_only_through_the_server(
        mob, live, second_machine, playwright_api, tmp_path):
    """The second machine is cabled to the host only (no default route): the link `kit lab --mob --lan` prints
    must carry the host's address on that cable, and the sandbox's own ports must stay out of its reach."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    machine = second_machine
    cable = lan.NetworkAddress(machine.host_address, machine.interface)
    offered = lan.listening(mob.port, "")  # `kit lab --mob --lan`: the default route's address, and the others
    assert offered.advertised == cable.address or (cable in offered.elsewhere and str(cable) in offered.hint()), \
        offered
    named = lan.listening(mob.port, machine.host_address)  # `kit lab --mob --lan ADDRESS`
    links = replace(mob.links(), base_url=named.base_url)
    printed = links.url(links.active("Grace"))
    base = named.base_url
    assert printed.startswith(f"{base}/lab/tree/mob.ipynb?token=")
    sandbox_ports = [port for port in (getattr(live, name) for name in PORTS) if _listens("127.0.0.1", port)]
    assert {live.prometheus_port, live.alertmanager_port, live.shop_port} <= set(sandbox_ports), sandbox_ports

    chromium = machine.launcher("/usr/bin/chromium", tmp_path)
    browser = playwright_api.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
    grace = new_page(browser.new_context(viewport={"width": 1400, "height": 900}))
    grace.set_default_timeout(WAIT)
    try:
        grace.goto(printed)
        timer = _cells(grace).locator(".cm-content").filter(has_text="kit.MobTimer(roster=")
        expect(timer).to_have_count(1, timeout=60_000)  # the shared notebook, wherever the mob has got to
        me = grace.evaluate("fetch('/api/me').then(r => r.json())")["identity"]
        assert (me["name"], me["display_name"]) == ("Grace", "Grace"), me
        expect(grace.locator(".kit-mob-roles .kit-mob-member[data-you]")).to_have_attribute("data-name", "Grace")

        prometheus = grace.context.new_page()
        shown = prometheus.goto(f"{base}/prometheus/")
        assert shown.status == 200 and prometheus.url.startswith(f"{base}/prometheus/"), prometheus.url
        expect(prometheus).to_have_title(re.compile("Prometheus"))
        status, answer = prometheus.evaluate("url => fetch(url).then(async r => [r.status, await r.json()])",
                                             f"{base}/prometheus/api/v1/query?query=up")
        assert status == 200 and answer["status"] == "success", answer
        assert "shop" in {row["metric"]["job"] for row in answer["data"]["result"]}, answer
        alertmanager = prometheus.goto(f"{base}/alertmanager/api/v2/status")
        assert alertmanager.status == 200 and "cluster" in alertmanager.json()

        stranger = new_page(browser.new_context())
        # the sandbox listens on loopback only; and this browser's loopback is the second machine's, not the host's
        for url in [f"http://{machine.host_address}:{port}/" for port in sandbox_ports] + \
                   [f"http://127.0.0.1:{live.prometheus_port}/"]:
            tab = stranger.context.new_page()
            with pytest.raises(PlaywrightError, match="ERR_CONNECTION_REFUSED"):
                tab.goto(url)
            tab.close()
        stranger.goto(f"{base}/prometheus/")
        assert "/login" in stranger.url and "Prometheus" not in stranger.title(), "the proxy must need a login"
        refused = stranger.goto(f"{base}/lab?token=not-a-member")
        assert refused.status == 403
        expect(stranger.locator("body")).to_contain_text("does not belong to this mob's server")
    except Exception as error:
        grace.screenshot(path=str(mob.shots / "second-machine.png"))
        raise AssertionError(mob.why(f"the member on the second machine: {error}")) from error
    finally:
        browser.close()
