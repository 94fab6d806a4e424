#!/usr/bin/env bash
# Agent footprint: release binary size, resident memory, and CPU time per heartbeat of
# a running `openclaw-fleet-agent run` against a local server (policy `ops`: a heartbeat
# every 15 s). CPU is measured between two samples taken after start-up, so it covers
# steady-state heartbeats and the config long-poll, not process start.
#
#   scripts/bench-agent.sh [SECONDS]   (default 90)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-90}
cargo build --release -q -p openclaw-fleet -p openclaw-fleet-agent
work=$(mktemp -d)
trap 'kill "$server" "$agent" 2>/dev/null || true; rm -rf "$work"' EXIT
printf 'benchmark password 123\n' > "$work/pw"
target/release/openclaw-fleet user create --email b@example.com --password-file "$work/pw" --data-dir "$work/d" >/dev/null
created=$(target/release/openclaw-fleet agent create --owner b@example.com --name bench --policy ops --data-dir "$work/d")
target/release/openclaw-fleet serve --listen 127.0.0.1:0 --data-dir "$work/d" > "$work/out" 2> "$work/err" &
server=$!
for _ in $(seq 1 100); do url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/out" | head -1 || true); [ -n "$url" ] && break; sleep 0.1; done
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])$2)" "$created"; }
OPENCLAW_FLEET_URL=$url OPENCLAW_FLEET_AGENT_ID=$(field '' '["id"]') \
OPENCLAW_FLEET_AGENT_SECRET=$(field '' '["agent_secret"]') \
OPENCLAW_FLEET_ENCRYPTION_SECRET=ocf_es_$(python3 -c 'import os,base64;print(base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="))') \
OPENCLAW_STATE_DIR="$work/state" target/release/openclaw-fleet-agent run 2> "$work/agent.log" &
agent=$!
# schedstat's first field: nanoseconds this task has run on a CPU (all threads: sum them).
cpu() { cat /proc/$agent/task/*/schedstat | awk '{s += $1} END {print s}'; }
sleep 5
c0=$(cpu); t0=$(date +%s.%N)
sleep "$seconds"
c1=$(cpu); t1=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$agent/status"); hwm=$(awk '/VmHWM/ {print $2}' "/proc/$agent/status")
n=$(python3 -c "print(int(($t1 - $t0) // 15))")
size=$(stat -c %s target/release/openclaw-fleet-agent)
python3 - "$c0" "$c1" "$n" "$rss" "$hwm" "$size" "$t0" "$t1" <<'PY'
import sys
c0, c1, n, rss, hwm, size, t0, t1 = sys.argv[1:]
cpu_ms = (float(c1) - float(c0)) / 1e6
n = max(int(n), 1)
print(f"release binary        {int(size)/1e6:.1f} MB   (target <= 10 MB)")
print(f"resident memory       {int(rss)/1024:.1f} MB now, {int(hwm)/1024:.1f} MB peak   (target <= 10 MB)")
print(f"CPU over {float(t1)-float(t0):.0f} s        {cpu_ms:.1f} ms for ~{n} heartbeats + long-polls")
print(f"CPU per heartbeat     {cpu_ms/n:.2f} ms (upper bound: includes the config long-poll)   (target <= 1 ms)")
PY
