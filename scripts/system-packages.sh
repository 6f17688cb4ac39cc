#!/usr/bin/env bash
# Installs the system packages the kit needs before its virtual environment exists:
# python3-venv (Debian and Ubuntu ship it apart from python3), and with --test
# what the test suite drives: Chromium (browser test) and docker-compose (which
# validates sandbox/docker-compose.yml without a Docker engine); with --bench
# wrk, the load generator of benchmarks/instrumentation_overhead.py. Prometheus and Alertmanager are installed by
# `kit binaries --install`. Does nothing when everything is already there.
set -euo pipefail

want=()
python3 -c 'import ensurepip, venv' 2>/dev/null || want+=(python3-venv)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || want+=(chromium)
  command -v docker-compose >/dev/null || want+=(docker-compose)
fi
if [ "${1:-}" = "--bench" ]; then
  command -v wrk >/dev/null || want+=(wrk)
fi
[ ${#want[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "missing: ${want[*]}. Install them with your package manager." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${want[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${want[@]}"
