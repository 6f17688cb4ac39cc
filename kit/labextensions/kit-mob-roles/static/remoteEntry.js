// The mob timer's roles beside the collaborators, in every mob member's JupyterLab (`kit lab --mob`).
//
// A prebuilt JupyterLab extension kept as this one hand-written file, so the kit needs no
// JavaScript build: it is a module-federation container as JupyterLab loads one
// (window._JUPYTERLAB[name] with init(shareScope) and get(module)), whose "./extension" module
// is one plugin. The plugin polls the mob server's roles (kit/mob/roles, see kit.mobserver)
// every second and shows each name with its role in the top bar. Names are set as text,
// never as HTML.
var _JUPYTERLAB = _JUPYTERLAB || {};
(function () {
  "use strict";
  var NAME = "kit-mob-roles";
  var EVERY_MS = 1000;
  var shared = {};

  function sharedModule(name) {
    var versions = shared[name] || {};
    var version = Object.keys(versions).sort().pop();
    if (!version) {
      return Promise.reject(new Error(NAME + ": JupyterLab shares no " + name));
    }
    return Promise.resolve(versions[version].get()).then(function (factory) { return factory(); });
  }

  function baseUrl() {
    var config = document.getElementById("jupyter-config-data");
    var base = config ? JSON.parse(config.textContent).baseUrl || "/" : "/";
    return base.replace(/\/?$/, "/");
  }

  function span(className, text) {
    var node = document.createElement("span");
    node.className = className;
    node.textContent = text;
    return node;
  }

  function draw(node, board) {
    var children = [];
    board.members.forEach(function (member) {
      var item = span("kit-mob-member", member.name);
      item.dataset.name = member.name;
      item.dataset.role = member.role;
      if (member.name === board.you) {
        item.dataset.you = "true";
        item.title = "you";
      }
      if (member.role) {
        item.appendChild(span("kit-mob-role", member.role));
      }
      children.push(item);
    });
    var clock = board.state === "running" ? board.clock : board.state + (board.clock ? " " + board.clock : "");
    children.push(span("kit-mob-clock", clock));
    node.replaceChildren.apply(node, children);
    node.dataset.turn = String(board.turn);
    node.dataset.state = board.state;
  }

  function poll(node) {
    var url = baseUrl() + "kit/mob/roles";
    function once() {
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (reply) {
          if (reply.status === 403) {
            node.replaceChildren(span("kit-mob-refused", "your mob login was revoked"));
            return null;
          }
          return reply.ok ? reply.json() : null;
        })
        .then(function (board) { if (board) { draw(node, board); } })
        .catch(function () { /* the server is restarting: the next poll redraws */ })
        .then(function () { window.setTimeout(once, EVERY_MS); });
    }
    once();
  }

  var STYLE = [
    ".kit-mob-roles { display: flex; align-items: center; gap: 6px; padding: 0 8px;",
    "  font-size: var(--jp-ui-font-size1); color: var(--jp-ui-font-color1); white-space: nowrap; }",
    ".kit-mob-member { padding: 1px 6px; border-radius: 10px; background: var(--jp-layout-color2); }",
    ".kit-mob-member[data-you] { outline: 1px solid var(--jp-brand-color1); }",
    ".kit-mob-role { margin-left: 4px; font-weight: bold; }",
    ".kit-mob-member[data-role=driver] { background: var(--jp-brand-color1); color: white; }",
    ".kit-mob-member[data-role=navigator] { background: var(--jp-brand-color3); }",
    ".kit-mob-clock { font-variant-numeric: tabular-nums; margin-left: 4px; }",
    ".kit-mob-refused { color: var(--jp-error-color1); }"
  ].join("\n");

  var plugin = {
    id: NAME + ":plugin",
    description: "Shows the mob timer's roles beside the collaborators.",
    autoStart: true,
    activate: function (app) {
      return sharedModule("@lumino/widgets").then(function (lumino) {
        var style = document.createElement("style");
        style.textContent = STYLE;
        document.head.appendChild(style);
        var widget = new lumino.Widget();
        widget.id = NAME;
        widget.addClass("kit-mob-roles");
        app.shell.add(widget, "top", { rank: 950 });
        poll(widget.node);
      });
    }
  };

  _JUPYTERLAB[NAME] = {
    init: function (scope) { shared = scope; },
    get: function (module) {
      if (module !== "./extension") {
        return Promise.reject(new Error(NAME + " has no module " + module));
      }
      return Promise.resolve(function () { return { __esModule: true, default: plugin }; });
    }
  };
})();
