"""`make lab` as a person uses it: JupyterLab in a real browser, lab 00's mob timer, then Ctrl-C.

`kit lab` runs with its own sandbox (own state folder and ports), because it stops
its sandbox on exit and must never stop the test session's shared one. One `kit lab`
serves every test of this file (the ``lab_server`` fixture); the Ctrl-C test stops it,
so it stays the last test here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from jupyterpages import CHROMIUM_FLAGS, new_page

from kit import localhttp, procs, sandbox
from kit.config import PORTS, REPO_ROOT, Config

LAB = "labs/00-mob-and-sandbox/00-mob-and-sandbox.ipynb"
WORK_LAB = "00-mob-and-sandbox/00-mob-and-sandbox.ipynb"
"""Lab 00 in the learner's working folder, which is what `kit lab` serves."""
PORT_VARS = tuple(Config.__dataclass_fields__[setting].metadata["env"] for setting in PORTS)
ROSTER = 'roster = ["Ada", "Grace", "Linus"]\nturn_minutes = 7'

# JupyterLab user settings for the test's private config folder: never autosave, every cell in
# the DOM. (No news settings: `kit lab` itself must keep the news pop-up away.)
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("install Debian's chromium package: apt-get install chromium")
    return found


def _jupyter_env(tmp: Path, token: str, base: dict[str, str]) -> dict[str, str]:
    """``base`` with Jupyter's folders and settings private to this test, and its token."""
    env = {**base, "JUPYTER_TOKEN": token, "JUPYTER_CONFIG_DIR": str(tmp / "jupyter-config"),
           "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"), "JUPYTER_RUNTIME_DIR": str(tmp / "jupyter-runtime"),
           "IPYTHONDIR": str(tmp / "ipython"), "MPLCONFIGDIR": str(tmp / "matplotlib"), "PYTHONUNBUFFERED": "1"}
    for name, values in LAB_SETTINGS.items():
        path = tmp / "jupyter-config" / "lab" / "user-settings" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    return env


def _lab_env(tmp: Path, token: str) -> dict[str, str]:
    env = _jupyter_env(tmp, token, {**os.environ, "KIT_STATE_DIR": str(tmp / "kit-state"), "KIT_PROFILE": "lab"})
    env.pop("KIT_HOST", None)
    env.pop("KIT_TEST_SESSION", None)
    taken = {int(os.environ[v]) for v in PORT_VARS if os.environ.get(v)}
    for var in PORT_VARS:
        port = procs.free_port()
        while port in taken:
            port = procs.free_port()
        taken.add(port)
        env[var] = str(port)
    # The user's own page config still applies beside the kit's: here it exposes the app to the test.
    page_config = tmp / "jupyter-config" / "labconfig" / "page_config.json"
    page_config.parent.mkdir(parents=True, exist_ok=True)
    page_config.write_text(json.dumps({"exposeAppInBrowser": True}))
    return env


def _leftovers(state_dir: str, port: int | None = None) -> dict[int, str]:
    """Processes that still belong to this `kit lab`: by command line, or by the state folder in their env."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    found = {}
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if proc.pid in mine or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = " ".join(proc.info["cmdline"] or ())
        try:
            env_state = proc.environ().get("KIT_STATE_DIR")
        except (psutil.Error, OSError):
            env_state = None
        if state_dir in cmdline or env_state == state_dir or (port and f"port={port}" in cmdline):
            found[proc.pid] = cmdline[:200]
    return found


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@dataclass
class LabServer:
    """A running `kit lab --no-browser` with its own sandbox, as a learner starts it."""

    process: subprocess.Popen
    terminal: int
    base: str
    port: int
    token: str
    env: dict[str, str]
    config: Config
    log_path: Path
    shot_dir: Path

    def why(self, message: str, shot: Path | None = None) -> str:
        where = f"\nscreenshot: {shot}" if shot else ""
        return f"{message}{where}\nkit lab output:\n{_tail(self.log_path)}"

    def url(self, path: str) -> str:
        return f"{self.base}/lab/tree/{path}?token={self.token}"


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kit-lab")
    token = secrets.token_hex(16)
    env = _lab_env(tmp, token)
    config = Config.from_env(env)
    assert config.state_dir != os.environ.get("KIT_STATE_DIR")
    port = procs.free_port()
    log_path = tmp / "kit-lab.log"
    # A terminal, as under `make lab`: Jupyter only takes over Ctrl-C (and shuts its kernels down) on a tty.
    terminal, terminal_end = os.openpty()
    with open(log_path, "wb") as log:
        # a runner started in the background ignores SIGINT, and children inherit that; a terminal's Ctrl-C does not
        lab = subprocess.Popen([sys.executable, "-m", "kit.cli", "lab", "--no-browser", "--port", str(port)],
                               cwd=REPO_ROOT, env=env, stdin=terminal_end, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(terminal_end)
    server = LabServer(lab, terminal, f"http://127.0.0.1:{port}", port, token, env, config, log_path, tmp)
    try:
        def serving() -> bool:
            assert lab.poll() is None, server.why(f"kit lab exited early with {lab.returncode}")
            try:
                return localhttp.client().get(f"{server.base}/api/status", headers={"Authorization": f"token {token}"},
                                              timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        assert procs.wait_until(serving, timeout=60, interval=0.2), server.why("JupyterLab never answered /api/status")
        yield server
    finally:
        if lab.poll() is None:  # a failed step: Ctrl-C first so Jupyter stops its kernel, then force
            os.killpg(lab.pid, signal.SIGINT)
            try:
                lab.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(lab.pid, signal.SIGKILL)
                lab.wait(timeout=10)
        os.close(terminal)
        sandbox.down(config)
        for pid in _leftovers(config.state_dir):  # only processes this test started carry its state folder
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for this file's tests; it may play the mob timer's chime without a click."""
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium,
                                     args=[*CHROMIUM_FLAGS, "--autoplay-policy=no-user-gesture-required"])
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class LabPage:
    page: object
    notebook: object
    shots: Path

    def fail(self, server: LabServer, error: Exception, name: str) -> AssertionError:
        shot = self.shots / f"{name}.png"
        self.page.screenshot(path=str(shot))
        return AssertionError(server.why(f"browser step failed: {error}", shot))


@pytest.fixture(scope="module")
def lab_page(lab_server, browser):
    """One tab on lab 00's working copy, its kernel connected, shared by this file's tests (as by a mob)."""
    from playwright.sync_api import expect

    page = new_page(browser, viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    opened = LabPage(page, page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"), lab_server.shot_dir)
    try:
        page.goto(lab_server.url(WORK_LAB))
        expect(opened.notebook).to_be_visible(timeout=30_000)
        # "| Idle" only once the kernel is connected (the toolbar's indicator says idle before);
        # a cell run before that is silently dropped.
        kernel = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\(ipykernel\) \| Idle"))
        expect(kernel).to_be_visible(timeout=30_000)
    except Exception as error:
        raise opened.fail(lab_server, error, "opening-lab-00") from error
    yield opened
    page.close()


def test_a_learner_sees_their_working_copy_and_no_authoring_tools_or_news(lab_server, lab_page):
    from playwright.sync_api import expect

    page = lab_page.page
    try:
        disabled = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent)"
                                 ".disabledExtensions")
        assert {"@jupyter/nbgrader", "@jupyterlab/apputils-extension:announcements"} <= set(disabled), disabled
        plugins = page.evaluate("""() => ({
            notebook: window.jupyterapp.isPluginActivated('@jupyterlab/notebook-extension:tracker'),
            news: window.jupyterapp.hasPlugin('@jupyterlab/apputils-extension:announcements'),
            nbgrader: window.jupyterapp.listPlugins().filter(id => id.startsWith('@jupyter/nbgrader'))})""")
        assert plugins == {"notebook": True, "news": False, "nbgrader": []}, plugins
        menus = page.locator("#jp-menu-panel")
        expect(menus.get_by_text("File", exact=True)).to_be_visible()
        expect(menus.get_by_text("Nbgrader")).to_have_count(0)
        toolbar = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-NotebookPanel-toolbar")
        expect(toolbar.get_by_title("Run this cell and advance")).to_be_visible()
        expect(toolbar.get_by_text("Validate")).to_have_count(0)
        expect(page.get_by_role("tab", name=re.compile("Create Assignment"))).to_have_count(0)
        expect(page.get_by_text("official Jupyter news")).to_have_count(0)

        page.locator(".jp-FileBrowser .jp-BreadCrumbs-home").click()
        items = page.locator(".jp-FileBrowser .jp-DirListing-content .jp-DirListing-itemName")
        expect(items.filter(has_text=re.compile(r"^runbooks$"))).to_have_count(1, timeout=10_000)  # the root listed
        names = set(items.all_inner_texts())
        assert {"00-mob-and-sandbox", "06-incident-drill", "runbooks"} <= names, names
        assert not {"kit", "labs", "solutions", "drills"} & names, f"the repository is showing: {names}"
        assert not [n for n in names if n.endswith(".egg-info")], names
    except Exception as error:
        raise lab_page.fail(lab_server, error, "learner-screen") from error
    formgrader = httpx.get(f"{lab_server.base}/formgrader", headers={"Authorization": f"token {lab_server.token}"})
    assert formgrader.status_code == 404, "nbgrader's server extensions must be off for learners"
    assert (lab_server.config.work / WORK_LAB).is_file()


def test_the_status_table_links_to_prometheus_and_alertmanager_at_the_configured_ports(lab_server, lab_page):
    from playwright.sync_api import expect

    env, page = lab_server.env, lab_page.page
    wanted = {"Prometheus": f"http://127.0.0.1:{env['KIT_PROMETHEUS_PORT']}",
              "Alertmanager": f"http://127.0.0.1:{env['KIT_ALERTMANAGER_PORT']}",
              "shop API docs": f"http://127.0.0.1:{env['KIT_SHOP_PORT']}/docs"}
    try:
        setup = lab_page.notebook.locator(".jp-CodeCell").nth(0)
        expect(setup).to_contain_text("kit.lab_setup(")
        setup.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        output = setup.locator(".jp-OutputArea")
        expect(output).to_contain_text("sandbox healthy", timeout=45_000)
        for name, url in wanted.items():
            expect(output.get_by_role("link", name=name, exact=True)).to_have_attribute("href", url)
    except Exception as error:
        raise lab_page.fail(lab_server, error, "status-links") from error
    text = subprocess.run([sys.executable, "-m", "kit.cli", "status"], env=env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=30).stdout
    for name, url in wanted.items():
        assert f"{name}: {url}" in text, text


# --- one JupyterLab on the test session's sandbox, shared by the tests below ---------------------------------

SCREEN = {"width": 1280, "height": 720}
"""A projector's screen: what a mob sees together."""
WAIT = 20_000
"""Milliseconds for the page to show what the kernel did (generous: the machine is shared)."""


@dataclass
class Lab:
    base: str
    token: str
    root: Path
    log: Path

    def url(self, notebook: str) -> str:
        """The notebook alone in a fresh workspace of its own (the default one would reopen earlier tabs)."""
        return f"{self.base}/lab/workspaces/{Path(notebook).stem}/tree/{notebook}?reset&token={self.token}"


def _write_notebook(path: Path, *cells: str) -> str:
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)
    return path.name


@pytest.fixture(scope="module")
def jupyterlab(live: Config, tmp_path_factory) -> Lab:
    """Plain JupyterLab whose kernels use the session's sandbox and state (the KIT_* variables conftest set)."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "notebooks"
    root.mkdir()
    token = secrets.token_hex(16)
    port = procs.free_port()
    log_path = tmp / "jupyterlab.log"
    argv = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.root_dir={root}",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}"]
    if os.geteuid() == 0:
        argv.append("--ServerApp.allow_root=True")
    with open(log_path, "wb") as log:
        lab = subprocess.Popen(procs.tethered(argv), cwd=root, env=_jupyter_env(tmp, token, dict(os.environ)),
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def serving() -> bool:
        assert lab.poll() is None, f"JupyterLab exited with {lab.returncode}:\n{_tail(log_path)}"
        try:
            return localhttp.client().get(f"{base}/api/status", headers={"Authorization": f"token {token}"},
                                          timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        assert procs.wait_until(serving, timeout=60, interval=0.2), f"JupyterLab never answered:\n{_tail(log_path)}"
        yield Lab(base, token, root, log_path)
    finally:
        lab.terminate()  # Jupyter shuts its kernels down on SIGTERM
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=10)


@contextlib.contextmanager
def _notebook(browser, lab: Lab, notebook: str, shot: Path):
    """The notebook open and its kernel connected; a screenshot if anything inside fails."""
    from playwright.sync_api import expect

    page = new_page(browser, viewport=SCREEN)
    page.set_default_timeout(30_000)
    try:
        page.goto(lab.url(notebook))
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        expect(panel).to_be_visible(timeout=60_000)
        # "| Idle" only once the kernel is connected; a cell run before that is silently dropped
        idle = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\(ipykernel\) \| Idle"))
        expect(idle).to_be_visible(timeout=60_000)
        yield page, panel.locator(".jp-CodeCell")
        page.screenshot(path=str(shot))
    except Exception as error:
        page.screenshot(path=str(shot))
        raise AssertionError(f"{error}\nscreenshot: {shot}\nJupyterLab's log:\n{_tail(lab.log)}") from error
    finally:
        page.close()


def _run(page, cell, timeout: float = 45_000) -> None:
    from playwright.sync_api import expect

    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout)
    expect(cell.locator(".jp-Cell-outputArea")).not_to_contain_text("Traceback", timeout=5_000)


def _inside(box: dict | None, what: str) -> None:
    assert box is not None, f"{what} is not shown"
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= SCREEN["width"] \
        and box["y"] + box["height"] <= SCREEN["height"], f"{what} is off the 1280x720 screen: {box}"


def _clipped(locator) -> list[str]:
    """Elements whose content does not fit their box: scrolled or cut off (a label's ellipsis), or text drawn
    past the box's edges (digits taller than the line they sit on), each as "text: content in box"."""
    return locator.evaluate_all("""els => els.flatMap(e => {
        const box = e.getBoundingClientRect(), range = document.createRange();
        range.selectNodeContents(e);
        const ink = range.getBoundingClientRect();
        const cut = e.scrollWidth > e.clientWidth || e.scrollHeight > e.clientHeight;
        const spills = ink.top < box.top - 0.5 || ink.bottom > box.bottom + 0.5
            || ink.left < box.left - 0.5 || ink.right > box.right + 0.5;
        return cut || spills ? [`${e.textContent.trim()}: ${e.scrollWidth}x${e.scrollHeight} `
            + `(drawn ${Math.round(ink.width)}x${Math.round(ink.height)}) in ${e.clientWidth}x${e.clientHeight}`] : [];
    })""")


def _elapsed(text: str) -> int:
    minutes, seconds = text.strip().lstrip("+").split(":")
    return int(minutes) * 60 + int(seconds)


def test_a_mob_screen_during_a_drill_fits_1280x720_and_its_buttons_agree_with_the_code(
        jupyterlab: Lab, browser, live: Config, tmp_path):
    """The mob timer and the drill console in one notebook, as a mob projects them; one page and kernel for both."""
    from playwright.sync_api import expect

    from kit import drills

    notebook = _write_notebook(
        jupyterlab.root / "mob.ipynb",
        'import kit\nkit.MobTimer(roster=["Ada", "Grace", "Linus"], turn_minutes=7, path="mob.json", fresh=True)',
        "from kit import drills\nfrom kit.drillconsole import console\nconsole()",
        'print(drills.ack(by="Ada").text)')
    if drills.running(live):
        drills.end(abandon=True, config=live)
    pool = ThreadPoolExecutor(1)  # the drill waits for the steady state while the browser opens the notebook
    starting = pool.submit(drills.start, "payments-down", config=live)
    try:
        with _notebook(browser, jupyterlab, notebook, tmp_path / "mob-screen.png") as (page, cells):
            # the mob timer: digits and labels whole, and a rotation is heard
            _run(page, cells.nth(0))
            timer = cells.nth(0).locator(".kit-mob-timer")
            expect(timer).to_contain_text("7:00", timeout=WAIT)
            timer.evaluate("e => e.scrollIntoView({block: 'start'})")
            digits = timer.locator(".kit-mob-countdown div")
            buttons = timer.get_by_role("button")
            assert buttons.count() == 6  # Start, Pause, Skip, Reset, Sound, Step away (Retro done shows after a cycle)
            assert not _clipped(digits), _clipped(digits)
            assert not _clipped(buttons), _clipped(buttons)
            for i in range(buttons.count()):
                _inside(buttons.nth(i).bounding_box(), f"the timer's {buttons.nth(i).inner_text()!r} button")
            timer.get_by_role("button", name="Start").click()
            expect(timer.get_by_role("button", name="Pause")).to_be_enabled(timeout=WAIT)
            expect(timer.locator("audio")).to_have_count(0, timeout=WAIT)
            timer.get_by_role("button", name="Skip (rotate now)").click()
            expect(timer).to_contain_text("Rotate! Grace drives now", timeout=WAIT)
            chime = timer.locator("audio.kit-mob-chime")
            expect(chime).to_have_count(1, timeout=WAIT)
            chime.evaluate("a => new Promise((done, fail) => { if (!a.paused || a.ended) done(); "
                           "a.addEventListener('playing', done); a.addEventListener('error', () => fail(a.error)); "
                           "setTimeout(() => fail('the chime did not play'), 20000); })")

            # the drill console: the lab invites the mob to press Acknowledge, then exercise 2 acknowledges
            # in code; both succeed and the first one counts
            starting.result(timeout=120)
            _run(page, cells.nth(1))
            view = cells.nth(1).locator(".kit-drill-console")
            pager = view.locator(".kit-drill-pager")
            expect(pager).to_contain_text("CheckoutErrorRatioHigh", timeout=60_000)
            timeline = view.locator(".kit-drill-timeline")
            expect(timeline).to_contain_text("page", timeout=WAIT)
            view.locator(".widget-text input").first.fill("Grace")
            view.get_by_role("button", name="Acknowledge").click()
            expect(view).to_contain_text("acknowledged by Grace", timeout=WAIT)
            _run(page, cells.nth(2))
            expect(cells.nth(2).locator(".jp-Cell-outputArea")).to_contain_text("acknowledged by Grace",
                                                                                 timeout=WAIT)
            newest = timeline.locator("tr").nth(1)
            expect(newest).to_contain_text("acknowledged", timeout=WAIT)

            # one projected screen: every button, the newest page and the newest events at once, newest first
            view.evaluate("e => e.scrollIntoView({block: 'start'})")
            buttons = view.get_by_role("button")
            assert buttons.count() >= 7
            for i in range(buttons.count()):
                _inside(buttons.nth(i).bounding_box(), f"the console's {buttons.nth(i).inner_text()!r} button")
            assert not _clipped(buttons), _clipped(buttons)
            _inside(pager.locator("tr").nth(1).bounding_box(), "the newest page")
            _inside(newest.bounding_box(), "the newest timeline event")
            assert timeline.locator("tr").count() > 3
            for table in (pager, timeline):
                times = [_elapsed(t) for t in table.locator("tr td:first-child").all_inner_texts()]
                assert times and times == sorted(times, reverse=True), f"not newest first: {times}"
        acks = [e for e in drills.status(live).events if e.kind == "acknowledged"]
        assert [e.data["by"] for e in acks] == ["Grace"]
    finally:
        pool.shutdown()  # the start has finished (or failed), so there is nothing left to race with
        if drills.running(live):
            drills.end(abandon=True, config=live)


def test_kit_lab_shows_the_mob_timer_in_a_browser_and_ctrl_c_stops_everything(lab_server, lab_page):
    """Stops the shared `kit lab`: keep it the last test of this file."""
    from playwright.sync_api import expect

    lab, env, config = lab_server.process, lab_server.env, lab_server.config
    port, base, log_path = lab_server.port, lab_server.base, lab_server.log_path
    shot = lab_server.shot_dir / "mob-timer.png"

    def why(message: str) -> str:
        return lab_server.why(message, shot)

    assert httpx.get(f"{base}/api/status", timeout=2.0).status_code == 403, "token auth must stay on"
    assert sandbox.status(config).healthy, why("kit lab's own sandbox is not healthy")
    page, notebook = lab_page.page, lab_page.notebook
    try:
        code = notebook.locator(".jp-CodeCell")

        def run(cell, timeout=45_000) -> None:
            cell.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Shift+Enter")
            expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout)
            expect(cell.locator(".jp-OutputArea")).not_to_contain_text("Traceback", timeout=5_000)

        setup, answer = code.nth(0), code.nth(1)
        expect(setup).to_contain_text("kit.lab_setup(")
        expect(answer).to_contain_text("NotImplementedError")
        run(setup)
        expect(setup.locator(".jp-OutputArea")).to_contain_text("sandbox healthy")

        answer.locator(".jp-InputArea-editor .cm-content").click()
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.insert_text(ROSTER)
        expect(answer.locator(".cm-content")).to_contain_text('roster = ["Ada", "Grace", "Linus"]')
        run(answer)
        run(code.nth(2))  # the exercise's visible test

        timer = code.filter(has_text="kit.MobTimer(roster")
        expect(timer).to_have_count(1)
        run(timer)
        widget = timer.locator(".jp-OutputArea .jupyter-widgets")
        expect(widget.first).to_be_visible()
        output = timer.locator(".jp-OutputArea")
        expect(output).to_contain_text("Driver: Ada")
        expect(output).to_contain_text("Navigator: Grace")
        expect(output).to_contain_text("Researchers: Linus")
        expect(output.get_by_role("button", name="Start")).to_be_visible()
        expect(output).to_contain_text(re.compile(r"7:00"))
        timer.scroll_into_view_if_needed()
        page.screenshot(path=str(shot))
    except Exception as error:
        page.screenshot(path=str(shot))
        raise AssertionError(why(f"browser step failed: {error}")) from error

    # Ctrl-C in the terminal that runs `make lab`, with the browser tab still open.
    os.killpg(lab.pid, signal.SIGINT)
    try:  # a guard against hanging, not a speed check: Jupyter, its kernel and six processes stop in turn
        exit_code = lab.wait(timeout=90)
    except subprocess.TimeoutExpired:
        pytest.fail(why("kit lab did not exit within 90 s of Ctrl-C"))

    assert exit_code == 0, why(f"kit lab exited with {exit_code} after Ctrl-C")
    assert "sandbox and JupyterLab stopped" in log_path.read_text(errors="replace"), why("no goodbye line")
    left = _leftovers(config.state_dir, port)
    assert not left, why("still running after Ctrl-C:\n" + "\n".join(f"{k}: {v}" for k, v in left.items()))
    assert not sandbox.status(config).running, why("kit lab's sandbox still runs")
    assert not procs.port_in_use("127.0.0.1", port), why(f"JupyterLab's port {port} is still taken")
    for var in PORT_VARS:
        assert not procs.port_in_use("127.0.0.1", int(env[var])), why(f"{var}={env[var]} is still taken")
    assert b'roster = [\\"Ada\\"' not in (REPO_ROOT / LAB).read_bytes(), \
        "the browser session saved its roster into the released lab"
