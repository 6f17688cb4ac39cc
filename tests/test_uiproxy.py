"""kit.uiproxy: the sandbox's UIs as jupyter-server-proxy entries, and Prometheus's classic pages behind a prefix.

The hub test (tests/hub/test_cohort.py) loads these pages through a real hub and proxy; here the rewrite is
checked on jupyter-server-proxy's own response object, on the exact page shapes of Prometheus's UIs.
"""

from __future__ import annotations

import io

from jupyter_server_proxy.handlers import RewritableResponse
from tornado.httpclient import HTTPRequest, HTTPResponse
from tornado.httputil import HTTPHeaders

from kit import labserver, uiproxy
from kit.config import Config

CLASSIC = (b'<link rel="shortcut icon" href="/classic/static/img/favicon.ico?v=2">\n'
           b'<script src="/classic/static/js/graph/index.js"></script>\n'
           b'<script>var PATH_PREFIX = "";</script>\n<a href="/classic/alerts">Alerts</a>\n'
           b'<a href="https://prometheus.io/docs">Help</a>')


def response(body: bytes, content_type: str = "text/html; charset=utf-8") -> RewritableResponse:
    headers = HTTPHeaders({"Content-Type": content_type})
    return RewritableResponse(orig_response=HTTPResponse(HTTPRequest("http://127.0.0.1/"), 200, headers,
                                                         io.BytesIO(body)))


def test_every_ui_is_an_entry_on_the_sandbox_port_with_a_titled_launcher():
    config = Config.from_env({}, prometheus_port=29090, alertmanager_port=29093, shop_port=28080)
    entries = uiproxy.servers(config, "/user/alice/")
    assert {name: entry["port"] for name, entry in entries.items()} == {
        "prometheus": 29090, "alertmanager": 29093, "shop": 28080}
    assert entries["shop"]["launcher_entry"] == {"title": "Shop API docs", "path_info": "shop/docs",
                                                 "category": uiproxy.CATEGORY}
    assert all("command" not in entry for entry in entries.values())  # proxied to the sandbox, never started


def test_a_classic_prometheus_page_gets_the_prefix_and_nothing_else_changes():
    page = response(CLASSIC)
    uiproxy.servers(Config.from_env({}), "/user/alice/")["prometheus"]["rewrite_response"](page)
    assert b'var PATH_PREFIX = "/user/alice/prometheus";' in page.body
    assert b'src="/user/alice/prometheus/classic/static/js/graph/index.js"' in page.body
    assert b'href="/user/alice/prometheus/classic/alerts"' in page.body
    assert b'href="https://prometheus.io/docs"' in page.body


def test_alert_sources_in_alertmanagers_api_open_the_proxied_prometheus():
    alerts = (b'[{"labels":{"alertname":"ServiceDown"},'
              b'"generatorURL":"http://dojo-host:29090/graph?g0.expr=up%7Bjob%3D%22shop%22%7D+%3D%3D+0&g0.tab=1"},'
              b'{"generatorURL": "http://127.0.0.1:29090/graph?g0.expr=x"},'
              b'{"generatorURL":"http://dojo-host:29091/graph?g0.expr=y","annotations":{"runbook_url":"http://dojo-host:29090/"}}]')
    config = Config.from_env({}, prometheus_port=29090, alertmanager_port=29093)
    api = response(alerts, "application/json")
    uiproxy.servers(config, "/user/alice/")["alertmanager"]["rewrite_response"](api)
    assert api.body == alerts.replace(b"http://dojo-host:29090/graph", b"/user/alice/prometheus/graph").replace(
        b"http://127.0.0.1:29090/graph", b"/user/alice/prometheus/graph")  # another port, another field: unchanged
    page = response(alerts, "text/html")
    uiproxy.point_sources(page, 29090, "/prometheus")
    assert page.body == alerts


def test_pages_that_know_their_place_and_other_responses_pass_unchanged():
    known = b'<script>var PATH_PREFIX = "/prom";</script><a href="/prom/classic/alerts">'
    react = b'<script src="./static/js/main.js"></script>'
    api = b'{"status":"success","data":{"href":"/x"}}'
    for body, kind in ((known, "text/html"), (react, "text/html"), (CLASSIC, "application/json"), (api, "application/json")):
        passed = response(body, kind)
        uiproxy.prefix_page(passed, "/prometheus")
        assert passed.body == body


def test_kit_lab_serves_the_uis(tmp_path):
    launch = labserver.settings(Config.from_env({"KIT_STATE_DIR": str(tmp_path)}), port=8888, browser=False)
    assert set(uiproxy.ARGUMENTS) <= set(launch.argv)
