#!/usr/bin/env bash
# Sets up everything dchub needs on a fresh clone: a virtualenv in .venv with the project and
# all its extras (pinned by constraints.txt), and the Debian packages the tests and benchmarks use:
# Chromium (the site in a real browser), wget (a crawl of the site is a mirror), curl and openssl
# (the benchmarks' peers).
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.dchub-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[all,test]"
  echo "$want" > "$stamp"
fi
# The project is installed editable, so pip compiles none of its modules, and where
# PYTHONDONTWRITEBYTECODE is set (CI images, Docker) Python never caches them either: every
# `dchub` or `hubgen` command (and recipe) would compile ~60 modules first (~100 ms). Compile what changed.
.venv/bin/python -m compileall -q -j 0 dchub_client hubgen recipes >/dev/null

# Debian packages: Chromium for the browser tests, wget for the site-crawl journey, curl and openssl
# for the benchmarks' peers.
packages=()
if [ "${DCHUB_SKIP_BROWSER:-0}" != "1" ] && ! command -v chromium >/dev/null 2>&1; then
  packages+=(chromium)
fi
for tool in wget curl openssl; do
  command -v "$tool" >/dev/null 2>&1 || packages+=("$tool")
done
if [ "${#packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  fi
fi
