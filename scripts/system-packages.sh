#!/usr/bin/env bash
# Installs the system packages the kit needs before its virtual environment exists:
# python3-venv (Debian and Ubuntu ship it apart from python3), and with --test
# what the test suite drives: Chromium (browser test) and docker-compose (which
# validates sandbox/docker-compose.yml without a Docker engine), Node.js and npm when `node` is missing, then
# configurable-http-proxy at the version hub/package-lock.json pins, into hub/node_modules (the cohort's
# JupyterHub test starts it), nftables (the hub's firewall between learners), curl (which the cohort
# test connects with as each learner), acl (setfacl, with which the cohort test lets its learners traverse
# the folders above the interpreter and the checkout) and iproute2 (`ip`: the mob test's second machine, a
# network namespace); with --bench
# wrk, the load generator of benchmarks/instrumentation_overhead.py. Prometheus, Alertmanager and HAProxy are installed by
# `kit binaries --install`. Does nothing when everything is already there.
set -euo pipefail

want=()
python3 -c 'import ensurepip, venv' 2>/dev/null || want+=(python3-venv)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || want+=(chromium)
  command -v docker-compose >/dev/null || want+=(docker-compose)
  command -v node >/dev/null || want+=(nodejs npm)
  command -v nft >/dev/null || [ -x /usr/sbin/nft ] || want+=(nftables)
  command -v curl >/dev/null || want+=(curl)
  command -v setfacl >/dev/null || want+=(acl)
  command -v ip >/dev/null || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || want+=(iproute2)
fi
if [ "${1:-}" = "--bench" ]; then
  command -v wrk >/dev/null || want+=(wrk)
fi

# configurable-http-proxy, after Node.js: exactly the locked version, into the project's own folder.
install_proxy() {
  [ "${1:-}" = "--test" ] || return 0
  local hub
  hub="$(cd "$(dirname "$0")/../hub" && pwd)"
  [ -x "$hub/node_modules/.bin/configurable-http-proxy" ] && return 0
  echo "installing configurable-http-proxy into $hub/node_modules"
  (cd "$hub" && npm ci --no-audit --no-fund --loglevel=error)
}
[ ${#want[@]} -eq 0 ] && { install_proxy "${1:-}"; exit 0; }

if ! command -v apt-get >/dev/null; then
  echo "missing: ${want[*]}. Install them with your package manager." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${want[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${want[@]}"
install_proxy "${1:-}"
