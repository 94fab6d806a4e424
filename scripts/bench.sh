#!/usr/bin/env bash
# Server benchmark: builds release binaries, starts a server on a fresh SQLite data dir
# (or DATABASE_URL), creates an owner, and runs the load generator against it.
#
#   scripts/bench.sh [AGENTS] [CONCURRENCY] [SECONDS] [LOADGEN FLAGS…]   e.g. … 10 --login-storm
set -euo pipefail
cd "$(dirname "$0")/.."
agents=${1:-200} concurrency=${2:-16} seconds=${3:-10}
extra=("${@:4}")

cargo build --release -q -p openclaw-fleet -p openclaw-fleet-loadgen
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
printf 'benchmark password 123\n' > "$work/pw"
db_args=()
[ -n "${DATABASE_URL:-}" ] && db_args=(--database-url "$DATABASE_URL")
target/release/openclaw-fleet user create --email bench@example.com --password-file "$work/pw" \
  --data-dir "$work/data" "${db_args[@]}" > /dev/null
target/release/openclaw-fleet serve --listen 127.0.0.1:0 --data-dir "$work/data" "${db_args[@]}" \
  > "$work/out.log" 2> "$work/err.log" &
server=$!
for _ in $(seq 1 100); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/out.log" | head -1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/err.log"; exit 1; }
echo "server at $url (pid $server), $(nproc) cores; load generator on the same machine"
target/release/openclaw-fleet-loadgen --url "$url" --email bench@example.com \
  --password-file "$work/pw" --agents "$agents" --concurrency "$concurrency" --seconds "$seconds" \
  "${extra[@]}"
