#!/usr/bin/env bash
# Runs every test of the project: Rust (protocol vectors, server API suite on SQLite and
# PostgreSQL, agent), the dashboard's crypto vectors under Node, the Python monitor, and
# the browser end-to-end tests in headless Chromium. Installs what it needs first.
#
#   scripts/test.sh            everything
#   SKIP_E2E=1 scripts/test.sh everything but the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n==> %s\n' "$*"; }

ensure_postgres() {
  if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    step "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
    for _ in $(seq 1 30); do (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null && break; sleep 1; done
  fi
}

ensure_python_deps() {
  python3 -c 'import pytest, cryptography' 2>/dev/null && return
  step "installing pytest and cryptography"
  python3 -m pip install --quiet --disable-pip-version-check pytest cryptography
}

ensure_node_deps() {
  [ -d node_modules/playwright-core ] && return
  step "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] && return
  step "installing Debian chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

ensure_postgres
ensure_python_deps

step "cargo test (workspace)"
cargo build --workspace --bins
OPENCLAW_FLEET_AGENT_BIN="$root/target/debug/openclaw-fleet-agent" cargo test --workspace

step "node --test web/tests (dashboard crypto vectors)"
node --test web/tests/

step "pytest python/tests (monitor, incl. against the real server)"
OPENCLAW_FLEET_SERVER_BIN="$root/target/debug/openclaw-fleet" \
OPENCLAW_FLEET_AGENT_BIN="$root/target/debug/openclaw-fleet-agent" \
  python3 -m pytest -q python/tests

if [ "${SKIP_PACKAGE:-0}" != 1 ]; then
  step "agent .deb: build (debug), inspect, install, reinstall, remove (scripts/test-package.sh)"
  scripts/test-package.sh
fi

if [ "${SKIP_E2E:-0}" != 1 ]; then
  ensure_node_deps
  ensure_chromium
  step "browser end-to-end tests (headless Chromium)"
  OPENCLAW_FLEET_BIN="$root/target/debug/openclaw-fleet" \
  OPENCLAW_FLEET_AGENT_BIN="$root/target/debug/openclaw-fleet-agent" \
  OPENCLAW_FLEET_CTL_BIN="$root/target/debug/openclaw-fleet-ctl" \
    node --test --test-concurrency=1 e2e/
fi
step "all tests passed"
