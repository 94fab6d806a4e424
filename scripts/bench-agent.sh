#!/usr/bin/env bash
# Agent footprint: release binary size, resident memory, and CPU time per heartbeat of
# a running `openclaw-fleet-agent run` against a local server (policy `ops`: a heartbeat
# every 15 s). CPU is measured between two samples taken after start-up, so it covers
# steady-state heartbeats and the config long-poll, not process start.
# The Python monitor runs beside it over the same window, as another agent of the same
# server with the same policy and an encryption secret (so it long-polls too, and no config
# arrives: the figures are "before the first config"); a bare `python3` sleeping is the
# baseline its memory is compared with, measured in the same run. The monitor runs as
# `python3 -m openclaw_fleet_monitor` (bytecode from __pycache__; a script path is compiled
# in memory at every start, which leaves about 2 MB more resident).
#
#   scripts/bench-agent.sh [SECONDS]   (default 90)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-90}
cargo build --release -q -p openclaw-fleet -p openclaw-fleet-agent
work=$(mktemp -d)
trap 'kill "$server" "$agent" "$monitor" "$bare" 2>/dev/null || true; rm -rf "$work"' EXIT
server=; agent=; monitor=; bare=
printf 'benchmark password 123\n' > "$work/pw"
target/release/openclaw-fleet user create --email b@example.com --password-file "$work/pw" --data-dir "$work/d" >/dev/null
created=$(target/release/openclaw-fleet agent create --owner b@example.com --name bench --policy ops --data-dir "$work/d")
created_py=$(target/release/openclaw-fleet agent create --owner b@example.com --name bench-py --policy ops --data-dir "$work/d")
target/release/openclaw-fleet serve --listen 127.0.0.1:0 --data-dir "$work/d" > "$work/out" 2> "$work/err" &
server=$!
for _ in $(seq 1 100); do url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/out" | head -1 || true); [ -n "$url" ] && break; sleep 0.1; done
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])$2)" "$1"; }
es() { echo "ocf_es_$(python3 -c 'import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))')"; }
OPENCLAW_FLEET_URL=$url OPENCLAW_FLEET_AGENT_ID=$(field "$created" '["id"]') \
OPENCLAW_FLEET_AGENT_SECRET=$(field "$created" '["agent_secret"]') \
OPENCLAW_FLEET_ENCRYPTION_SECRET=$(es) \
OPENCLAW_STATE_DIR="$work/state" target/release/openclaw-fleet-agent run 2> "$work/agent.log" &
agent=$!
OPENCLAW_FLEET_URL=$url OPENCLAW_FLEET_AGENT_ID=$(field "$created_py" '["id"]') \
OPENCLAW_FLEET_AGENT_SECRET=$(field "$created_py" '["agent_secret"]') \
OPENCLAW_FLEET_ENCRYPTION_SECRET=$(es) OPENCLAW_STATE_DIR="$work/state-py" \
OPENCLAW_GATEWAY_URL=http://127.0.0.1:9 PYTHONPATH=python python3 -m openclaw_fleet_monitor 2> "$work/monitor.log" &
monitor=$!
python3 -c 'import time; time.sleep(1e6)' &
bare=$!
# schedstat's first field: nanoseconds this task has run on a CPU (all threads: sum them).
cpu() { cat /proc/$1/task/*/schedstat | awk '{s += $1} END {print s}'; }
kb() { awk "/$2/ {print \$2}" "/proc/$1/status"; }
# Sample only after both have handshaken (start-up, imports included, stays out of the
# window even on a loaded machine), plus the first heartbeat's few seconds.
for _ in $(seq 1 600); do
  grep -q "handshake accepted" "$work/agent.log" && grep -q "handshake ok" "$work/monitor.log" && break
  sleep 0.1
done
sleep 5
c0=$(cpu $agent); m0=$(cpu $monitor); t0=$(date +%s.%N)
sleep "$seconds"
c1=$(cpu $agent); m1=$(cpu $monitor); t1=$(date +%s.%N)
rss=$(kb $agent VmRSS); hwm=$(kb $agent VmHWM)
mrss=$(kb $monitor VmRSS); mhwm=$(kb $monitor VmHWM); brss=$(kb $bare VmRSS)
crypto=$(grep -c -m1 'cryptography' "/proc/$monitor/maps" || true)
n=$(python3 -c "print(int(($t1 - $t0) // 15))")
size=$(stat -c %s target/release/openclaw-fleet-agent)
python3 - "$c0" "$c1" "$n" "$rss" "$hwm" "$size" "$t0" "$t1" "$m0" "$m1" "$mrss" "$mhwm" "$brss" "$crypto" <<'PY'
import sys
c0, c1, n, rss, hwm, size, t0, t1, m0, m1, mrss, mhwm, brss, crypto = sys.argv[1:]
cpu_ms = (float(c1) - float(c0)) / 1e6
mcpu_ms = (float(m1) - float(m0)) / 1e6
n = max(int(n), 1)
print(f"release binary        {int(size)/1e6:.1f} MB   (target <= 10 MB)")
print(f"resident memory       {int(rss)/1024:.1f} MB now, {int(hwm)/1024:.1f} MB peak   (target <= 10 MB)")
print(f"CPU over {float(t1)-float(t0):.0f} s        {cpu_ms:.1f} ms for ~{n} heartbeats + long-polls")
print(f"CPU per heartbeat     {cpu_ms/n:.2f} ms (upper bound: includes the config long-poll)   (target <= 1 ms)")
print()
print("Python monitor, same server, policy and window (no config yet):")
print(f"resident memory       {int(mrss)/1024:.1f} MB now, {int(mhwm)/1024:.1f} MB peak   (target <= 22 MB; "
      f"{int(mrss)/int(rss):.1f}x the Rust agent)")
print(f"bare python3 baseline {int(brss)/1024:.1f} MB (the interpreter alone, same machine): the monitor's own "
      f"share is {(int(mrss)-int(brss))/1024:.1f} MB")
print(f"cryptography loaded   {'yes' if crypto.strip() not in ('', '0') else 'no'}")
print(f"CPU per heartbeat     {mcpu_ms/n:.2f} ms (incl. long-poll; {mcpu_ms/max(cpu_ms, 1e-9):.1f}x the Rust agent)")
PY
