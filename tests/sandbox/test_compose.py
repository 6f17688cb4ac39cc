"""sandbox/docker-compose.yml describes the same sandbox as `kit up`, checked without a Docker engine.

`docker-compose config` (Debian's docker-compose package) validates and normalizes the
file; the normalized services are compared with what the embedded sandbox uses: the
targets in sandbox/prometheus.yml and alertmanager.yml, the default ports of
kit.config.Config, and the entry points and flags of kit.sandbox.processes.argv_for.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from kit import binaries
from kit.config import PROFILES, Config
from kit.sandbox import HEALTH_PATHS, HOST_PORTS, render, rule_count
from kit.sandbox.processes import argv_for
from kit.sandbox.render import COMPOSE_PORTS

REPO = Path(__file__).resolve().parents[2]
SANDBOX = REPO / "sandbox"
COMPOSE_FILE = SANDBOX / "docker-compose.yml"
DOCKERFILE = SANDBOX / "Dockerfile"
INSTALL = "sudo apt-get install -y --no-install-recommends docker-compose"
PYTHON_SERVICES = ("shop", "payments", "pager", "traffic")
OFFICIAL_IMAGES = {"prometheus": "prom/prometheus", "alertmanager": "prom/alertmanager"}


# ---------------------------------------------------------------- helpers


def _compose_env() -> dict[str, str]:
    """The caller's environment minus KIT_* (the test session sets random ports) and COMPOSE_*."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "COMPOSE_"))}


@pytest.fixture(scope="module")
def compose() -> dict:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed; it validates sandbox/docker-compose.yml without a "
                    f"Docker engine. Install it with: {INSTALL}", pytrace=False)
    result = subprocess.run([binary, "-f", str(COMPOSE_FILE), "config"], capture_output=True, text=True,
                            env=_compose_env(), cwd=REPO, timeout=120)
    assert result.returncode == 0, f"docker-compose config rejected {COMPOSE_FILE}:\n{result.stderr}"
    assert "variable is not set" not in result.stderr, result.stderr
    return yaml.safe_load(result.stdout)


def _services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _command(service: dict) -> list[str]:
    command = service.get("command") or []
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def _flags(argv: list[str]) -> set[str]:
    return {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}


def _value(argv: list[str], flag: str) -> str:
    for i, arg in enumerate(argv):
        if arg == flag:
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{flag} missing from {argv}")


def _module(argv: list[str]) -> str:
    assert "-m" in argv, f"not a `python -m` command: {argv}"
    return argv[argv.index("-m") + 1]


def _listen_port(name: str, service: dict) -> int:
    """The container port the service listens on, read from its own command line (HAProxy's: its exporter's, from the
    rendered haproxy.cfg, see test_proxy_listens_where_compose_publishes_and_forwards_to_the_shop)."""
    if name == "proxy":
        return COMPOSE_PORTS["proxy"]
    argv = _command(service)
    if name in OFFICIAL_IMAGES:
        return int(_value(argv, "--web.listen-address").rpartition(":")[2])
    return int(_value(argv, "--port"))


def _published(service: dict) -> list[tuple[str, int | None, int]]:
    """(host ip, host port, container port) of every published port, short or long syntax."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            published = port.get("published")
            out.append((port.get("host_ip", ""), int(published) if published else None, int(port["target"])))
            continue
        spec = str(port).split("/", 1)[0]
        parts = spec.rsplit(":", 2)
        if len(parts) == 3:
            out.append((parts[0], int(parts[1]), int(parts[2])))
        elif len(parts) == 2:
            out.append(("", int(parts[0]), int(parts[1])))
        else:
            out.append(("", None, int(parts[0])))
    return out


def _mounts(service: dict) -> list[tuple[str, str, bool]]:
    """(source, target, read only) of every volume, short or long syntax."""
    out = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            out.append((str(volume.get("source", "")), volume["target"], bool(volume.get("read_only"))))
            continue
        parts = str(volume).split(":")
        mode = parts[2] if len(parts) > 2 else "rw"
        out.append((parts[0], parts[1], "ro" in mode.split(",")))
    return out


def _mount_of(service: dict, path: str) -> tuple[str, str, bool]:
    """The mount that holds ``path`` inside the container."""
    holders = [m for m in _mounts(service) if path == m[1] or path.startswith(m[1].rstrip("/") + "/")]
    assert holders, f"{path} is on no volume of {service.get('image')}: {_mounts(service)}"
    return max(holders, key=lambda m: len(m[1]))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """The configuration the `config` one-shot renders (`kit render --compose`), defaults throughout."""
    return render(Config(state_dir=str(tmp_path_factory.mktemp("compose"))), tmp_path_factory.mktemp("out"),
                  compose=True)


def _targets(prom: dict, rendered: Path) -> dict[str, list[str]]:
    """Every host:port Prometheus talks to: scrape jobs by name (static and file_sd), plus the Alertmanagers."""
    found = {job["job_name"]: [t for s in job.get("static_configs", []) for t in s["targets"]]
             + [t for sd in job.get("file_sd_configs", []) for f in sd["files"]
                for group in json.loads((rendered / f).read_text()) for t in group["targets"]]
             for job in prom["scrape_configs"]}
    found["(alerting)"] = [t for am in prom["alerting"]["alertmanagers"]
                           for s in am.get("static_configs", []) for t in s["targets"]]
    return found


def _webhooks(am: dict) -> list[str]:
    return [hook["url"] for r in am["receivers"] for hook in r.get("webhook_configs", [])]


def _config_script(services: dict) -> str:
    return " ".join(_command(services["config"]))


# ---------------------------------------------------------------- topology


def test_every_prometheus_target_is_a_compose_service_listening_on_that_port(compose, rendered):
    services = _services(compose)
    targets = _targets(_load(rendered / "prometheus.yml"), rendered)
    assert set(targets) - {"(alerting)"} == set(HOST_PORTS), "scrape jobs differ from the sandbox's listeners"
    hosts = set()
    for job, addresses in targets.items():
        assert addresses, f"job {job} has no targets"
        for address in addresses:
            host, _, port = address.rpartition(":")
            assert host in services, f"{job} scrapes {address}, but compose has no service {host!r}"
            assert _listen_port(host, services[host]) == int(port), f"{host} does not listen on {port}"
            assert int(port) in [p[2] for p in _published(services[host])], f"{host} does not expose {port}"
            hosts.add(host)
    assert hosts == set(HOST_PORTS)


def test_alertmanager_webhook_is_the_pager_service(compose):
    services = _services(compose)
    urls = _webhooks(_load(SANDBOX / "alertmanager.yml"))
    assert urls
    for url in map(httpx.URL, urls):
        assert url.host == "pager" and "pager" in services, url
        assert url.port == _listen_port("pager", services["pager"])


def test_ports_are_published_on_loopback_with_the_kit_up_defaults(compose):
    defaults = Config()
    for name, service in _services(compose).items():
        published = _published(service)
        if name not in HOST_PORTS:
            assert not published, f"{name} publishes {published}; only the sandbox's listeners should"
            continue
        public = [("127.0.0.1", defaults.shop_port, COMPOSE_PORTS["shop"])] if name == "proxy" else []
        assert published == [*public, ("127.0.0.1", getattr(defaults, HOST_PORTS[name]), _listen_port(name, service))], (
            f"{name} must publish 127.0.0.1:{getattr(defaults, HOST_PORTS[name])} (Config.{HOST_PORTS[name]}),"
            f" got {service.get('ports')}")
    assert set(HOST_PORTS) <= set(_services(compose))


def test_prometheus_and_alertmanager_use_pinned_official_images(compose):
    services = _services(compose)
    for name, repository in OFFICIAL_IMAGES.items():
        image = services[name]["image"]
        name_part, _, tag = image.rpartition(":")
        assert name_part == repository, f"{name} runs {image}, not the official {repository}"
        assert re.fullmatch(r"v\d+\.\d+\.\d+", tag), f"{name} image tag {tag!r} is not a pinned release"
        assert "build" not in services[name]


def test_only_the_sandbox_services(compose):
    assert set(_services(compose)) == {"config", "proxy", *PYTHON_SERVICES, *OFFICIAL_IMAGES}


def test_everything_waits_for_the_config_one_shot(compose):
    services = _services(compose)
    for name, service in services.items():
        if name == "config":
            continue
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict) and depends.get("config", {}).get("condition") == \
            "service_completed_successfully", f"{name} does not wait for config: {depends}"
    # Prometheus starts once everything it scrapes answers, as `kit up` does.
    for name in ("shop", "proxy", "payments", "pager"):
        assert services["prometheus"]["depends_on"][name]["condition"] == "service_healthy"


def test_config_renders_the_default_profile_from_the_mounted_sandbox_sources(compose):
    services = _services(compose)
    script = _config_script(services)
    assert re.search(rf"\bkit render --compose --profile {Config().profile} --out /rendered\b", script), script
    mounted = {source: target for source, target, _ in _mounts(services["config"])}
    assert str(SANDBOX) in mounted, "config does not mount the repository's sandbox/ folder"
    env = services["config"].get("environment") or {}
    dockerfile_env = re.findall(r"KIT_SANDBOX_DIR=(\S+)", DOCKERFILE.read_text())
    assert mounted[str(SANDBOX)] in (env.get("KIT_SANDBOX_DIR"), *dockerfile_env), \
        "KIT_SANDBOX_DIR does not point at the mounted sandbox/ sources"


def test_rendered_config_volume_is_where_prometheus_and_alertmanager_read_it(compose):
    services = _services(compose)
    out = re.search(r"--out\s+(\S+)", _config_script(services)).group(1)
    source, _, read_only = _mount_of(services["config"], out)
    assert not read_only and source in (compose.get("volumes") or {}), "rendered config is not on a named volume"
    for name in OFFICIAL_IMAGES:
        config_file = _value(_command(services[name]), "--config.file")
        assert Path(config_file).name == f"{name}.yml"
        mount = _mount_of(services[name], config_file)
        assert mount[0] == source, f"{name} reads {config_file} from {mount[0]}, config writes {source}"
        written = os.path.relpath(Path(out) / f"{name}.yml", _mount_of(services["config"], out)[1])
        assert os.path.relpath(config_file, mount[1]) == written, f"{name} reads another file than config writes"


def test_prometheus_and_alertmanager_take_the_flags_kit_up_gives_them(compose):
    services = _services(compose)
    tools = {n: binaries.Found(n, Path(f"/bin/{n}"), "0") for n in OFFICIAL_IMAGES}
    embedded = Config(host="0.0.0.0", allow_remote=True)
    for name in OFFICIAL_IMAGES:
        assert _flags(_command(services[name])) == _flags(argv_for(name, embedded, tools)), name
        assert _value(_command(services[name]), "--web.listen-address").startswith(("0.0.0.0:", ":"))
    prometheus = _command(services["prometheus"])
    assert "--web.enable-lifecycle" in prometheus
    assert _value(prometheus, "--rules.alert.resend-delay") == PROFILES[Config().profile].resend_delay
    assert _value(_command(services["alertmanager"]), "--cluster.listen-address") == "", "cluster must be off"


def test_python_services_run_the_entry_points_and_flags_kit_up_uses(compose):
    services = _services(compose)
    embedded = Config(host="0.0.0.0", allow_remote=True)
    for name in PYTHON_SERVICES:
        got, want = _command(services[name]), argv_for(name, embedded, {})
        assert got[:2] == ["python", "-m"], f"{name}: {got}"
        assert _module(got) == _module(want), name
        if _module(want) == "kit.shop.service":
            assert got[3] == want[3] == name
        assert _flags(got) == _flags(want), f"{name}: flags {sorted(_flags(got) ^ _flags(want))} differ from argv_for"
        if name in HOST_PORTS:
            assert _value(got, "--host") == "0.0.0.0" and "--allow-remote" in got, name
    shop = _command(services["shop"])
    payments = httpx.URL(_value(shop, "--payments-url"))
    assert payments.host == "payments" and payments.port == _listen_port("payments", services["payments"])
    traffic = httpx.URL(_value(_command(services["traffic"]), "--shop"))
    assert traffic.host == "proxy" and traffic.port == COMPOSE_PORTS["shop"], "traffic goes through HAProxy"


def test_proxy_listens_where_compose_publishes_and_forwards_to_the_shop(compose, rendered):
    """HAProxy runs the rendered haproxy.cfg, binds the ports compose publishes and forwards to the shop service's port
    (HAProxy's own check of the file runs in test_render: here the container names would not resolve)."""
    services = _services(compose)
    argv = _command(services["proxy"])
    assert argv[0] == "haproxy" and "-db" in argv
    config_file = _value(argv, "-f")
    assert _mount_of(services["proxy"], config_file)[0] == _mount_of(services["config"], "/rendered")[0]
    text = (rendered / Path(config_file).name).read_text()
    assert f"bind 0.0.0.0:{COMPOSE_PORTS['shop']}" in text and f"bind 0.0.0.0:{COMPOSE_PORTS['proxy']}" in text
    assert f"server stable shop:{_listen_port('shop', services['shop'])} " in text
    # Container addresses change when a container restarts: HAProxy asks Docker's DNS again, and starts before
    # the canary's name resolves.
    assert "nameserver docker 127.0.0.11:53" in text
    assert text.count("resolvers docker init-addr last,libc,none") == 2


def test_shop_and_payments_read_the_token_config_writes(compose):
    services = _services(compose)
    token = _value(_command(services["shop"]), "--token-file")
    assert _value(_command(services["payments"]), "--token-file") == token
    volume = _mount_of(services["shop"], token)[0]
    assert _mount_of(services["payments"], token)[0] == volume
    writer = _mount_of(services["config"], token)
    assert writer[0] == volume and not writer[2]
    script = _config_script(services)
    assert token in script and "0o600" in script, "config must write the token file with mode 0600"


def test_python_listeners_have_health_checks(compose):
    services = _services(compose)
    for name in ("shop", "payments", "pager"):
        check = services[name].get("healthcheck", {}).get("test")
        assert check, f"{name} has no healthcheck"
        text = " ".join(check) if isinstance(check, list) else check
        assert "python" in text and "curl" not in text, f"{name}: {text}"
        port, path = _listen_port(name, services[name]), re.escape(HEALTH_PATHS[name])
        url = rf"//(127\.0\.0\.1|localhost):{port}{path}(?![\w/])"
        assert re.search(url, text), f"{name} does not check {HEALTH_PATHS[name]} on its own port: {text}"


# ---------------------------------------------------------------- rendering


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_kit_render_compose_keeps_host_names_and_passes_promtool(tmp_path, profile):
    out = tmp_path / "rendered"
    result = subprocess.run([sys.executable, "-m", "kit.cli", "render", "--compose", "--profile", profile,
                             "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert _targets(_load(out / "prometheus.yml"), out) == _targets(_load(SANDBOX / "prometheus.yml"), out)
    assert _webhooks(_load(out / "alertmanager.yml")) == _webhooks(_load(SANDBOX / "alertmanager.yml"))
    assert _load(out / "prometheus.yml")["global"]["scrape_interval"] == PROFILES[profile].scrape_interval
    check = subprocess.run([str(binaries.path("promtool")), "check", "config", str(out / "prometheus.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"{rule_count(out)} rules found" in check.stdout
    check = subprocess.run([str(binaries.path("amtool")), "check-config", str(out / "alertmanager.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


# ---------------------------------------------------------------- image


def _pyproject_files() -> set[str]:
    """Files `pip install .` reads besides the package: pyproject.toml and the readme/license it names."""
    text = (REPO / "pyproject.toml").read_text()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        named = re.findall(r'^(?:readme|license)\s*=\s*(?:\{\s*file\s*=\s*)?"([^"]+)"', text, re.M)
    else:
        project = tomllib.loads(text)["project"]
        named = []
        for key in ("readme", "license"):
            value = project.get(key)
            if isinstance(value, str) and key == "readme":
                named.append(value)
            elif isinstance(value, dict) and "file" in value:
                named.append(value["file"])
    return {"pyproject.toml", *named}


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.strip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                word, _, rest = current.strip().partition(" ")
                lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent folder wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pattern in patterns:
        exception = pattern.startswith("!")
        pattern = os.path.normpath(pattern.lstrip("!").strip()).lstrip("/")
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        if any(re.fullmatch(regex, c) for c in candidates):
            ignored = not exception
    return ignored


def test_image_build_context_is_the_repository_and_the_dockerfile(compose):
    services = _services(compose)
    for name in ("config", *PYTHON_SERVICES):
        build = services[name].get("build")
        assert build, f"{name} is not built from sandbox/Dockerfile"
        context = Path(build["context"])
        assert context.resolve() == REPO, f"{name} builds from {context}, not the repository root"
        assert (context / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    assert len({services[n].get("image") for n in ("config", *PYTHON_SERVICES)}) == 1, "one image for all"


def test_dockerfile_copies_what_pip_install_needs():
    instructions = _dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    install = next((i for i, (word, rest) in enumerate(instructions)
                    if word == "RUN" and re.search(r"pip install (\S+ )*\.(\s|$)", rest + " ")), None)
    assert install is not None, "the Dockerfile never runs `pip install .`"
    copied = set()
    for word, rest in instructions[:install]:
        if word in ("COPY", "ADD"):
            *sources, _ = [a for a in rest.split() if not a.startswith("--")]
            copied |= {s.strip("/").removeprefix("./") or "." for s in sources}
    needed = {*_pyproject_files(), "kit"}
    missing = {f for f in needed if f not in copied and "." not in copied}
    assert not missing, f"`pip install .` runs before {sorted(missing)} is copied into the image"
    assert "sandbox" in {s for word, rest in instructions if word == "COPY"
                         for s in (a.strip("/") for a in rest.split()[:-1])}


def test_dockerignore_keeps_what_the_image_needs_and_drops_the_rest():
    ignore = REPO / ".dockerignore"
    assert ignore.exists(), "without a root .dockerignore the build sends .venv and .git to the engine"
    patterns = [line.strip() for line in ignore.read_text().splitlines()
                if line.strip() and not line.strip().startswith("#")]
    for path in (*_pyproject_files(), "kit/__init__.py", "kit/cli/__init__.py", "sandbox/prometheus.yml",
                 "sandbox/alertmanager.yml", "sandbox/rules/starter.yml"):
        assert not _ignored(path, patterns), f".dockerignore drops {path}, which the image needs"
    for path in (".venv/bin/python", ".git/HEAD", "labs/x.ipynb", "kit/cli/__pycache__/__init__.cpython-311.pyc"):
        assert _ignored(path, patterns), f".dockerignore lets {path} into the build context"
