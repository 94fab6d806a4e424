#!/usr/bin/env bash
# Server benchmark: builds release binaries, starts a server on a fresh SQLite data dir
# (or DATABASE_URL), creates an owner, and runs the load generator against it.
#
#   scripts/bench.sh [AGENTS] [CONCURRENCY] [SECONDS] [LOADGEN FLAGS…]   e.g. … 10 --login-storm
#   scripts/bench.sh table        # issue 10's whole table: SQLite, then PostgreSQL with two replicas
#
# `table` settings (environment): BENCH_AGENTS (open loop and storm, default 100000),
# BENCH_SECONDS (open loop, default 300), BENCH_CLOSED_AGENTS (1000), BENCH_CONCURRENCY (64),
# BENCH_CLOSED_SECONDS (10), BENCH_POLLERS (10000), BENCH_LIST_REQUESTS (30, per list query),
# BENCH_HISTORY_AGENTS (200, agents given a day of history samples), BENCH_BACKENDS ("sqlite postgres"),
# BENCH_PG_URL (postgres://postgres@127.0.0.1:5432, a server where databases may be created).
# BENCH_BIN=DIR: use the release binaries already in DIR instead of building them.
# BENCH_KEEP=DIR: copy the servers' logs (stdout, stderr) into DIR before the work dir is removed.
# BENCH_PG_AUTOVACUUM=on: a PostgreSQL server running with autovacuum off (as CI machines'
# are configured) gets it turned on for the run (ALTER SYSTEM, reload) and back off after.
# Without it such a server is measured as it is, with a warning: heartbeats update every
# agent's row, and without vacuum the agents table and its indexes only grow.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release}

[ -n "${BENCH_BIN:-}" ] || cargo build --release -q -p openclaw-fleet -p openclaw-fleet-loadgen
work=$(mktemp -d)
pids=()
pg_dbs=()
pg_admin() { psql "${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}/postgres" -qAtc "$1"; }
autovacuum_restore=
cleanup() {
  if [ -n "$autovacuum_restore" ]; then
    pg_admin "ALTER SYSTEM RESET autovacuum" && pg_admin "SELECT pg_reload_conf()" > /dev/null || true
  fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for db in "${pg_dbs[@]}"; do
    pg_admin "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  done
  if [ -n "${BENCH_KEEP:-}" ]; then
    mkdir -p "$BENCH_KEEP" && cp "$work"/*.out "$work"/*.err "$BENCH_KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
printf 'benchmark password 123\n' > "$work/pw"

# start_server NAME DATA_DIR [DB ARGS…]: starts a server on a free port; sets $url and $pid.
start_server() {
  local name=$1 dir=$2
  shift 2
  "$bin/openclaw-fleet" serve --listen 127.0.0.1:0 --data-dir "$dir" "$@" \
    > "$work/$name.out" 2> "$work/$name.err" &
  pid=$!
  pids+=("$pid")
  url=
  for _ in $(seq 1 300); do
    url=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/$name.out" | head -1 || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$work/$name.err"; exit 1; }
}

loadgen() {
  "$bin/openclaw-fleet-loadgen" --email bench@example.com --password-file "$work/pw" "$@"
}

if [ "${1:-}" != table ]; then
  agents=${1:-200} concurrency=${2:-16} seconds=${3:-10}
  extra=("${@:4}")
  db_args=()
  [ -n "${DATABASE_URL:-}" ] && db_args=(--database-url "$DATABASE_URL")
  "$bin/openclaw-fleet" user create --email bench@example.com --password-file "$work/pw" \
    --data-dir "$work/data" "${db_args[@]}" > /dev/null
  start_server server "$work/data" "${db_args[@]}"
  echo "server at $url (pid $pid), $(nproc) cores; load generator on the same machine"
  loadgen --url "$url" --agents "$agents" --concurrency "$concurrency" --seconds "$seconds" "${extra[@]}"
  exit 0
fi

open_agents=${BENCH_AGENTS:-100000}
open_seconds=${BENCH_SECONDS:-300}
closed_agents=${BENCH_CLOSED_AGENTS:-1000}
concurrency=${BENCH_CONCURRENCY:-64}
closed_seconds=${BENCH_CLOSED_SECONDS:-10}
pollers=${BENCH_POLLERS:-10000}
pg_url=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
echo "== issue 10 table: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); the load generator shares the machine"
echo "   $(git rev-parse --short HEAD) (binaries: $bin), release build, $(date -u +%FT%TZ)"

# cpu_ticks PID: utime+stime in 1/100 s.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_table KEY LABEL URL_A PID_A URL_B PID_B [PG DATABASE]; KEY (sqlite or postgres) is what
# the cargo benches take, LABEL what the report prints.
run_table() {
  local key=$1 backend=$2 a=$3 pid_a=$4 b=$5 pid_b=$6 pgdb=${7:-}
  echo
  echo "== [$backend] heartbeats and handshakes, closed loop, vs the no-op ($closed_agents agents, $concurrency in flight, ${closed_seconds} s each)"
  loadgen --url "$a" --agents "$closed_agents" --concurrency "$concurrency" --seconds "$closed_seconds"
  echo
  echo "== [$backend] provisioning, reconnect storm, open loop ($open_agents agents, one heartbeat / 10 s each, ${open_seconds} s)"
  local c0 l0
  c0=$(cpu_ticks "$pid_a")
  loadgen --url "$a" --mode open --agents "$open_agents" --seconds "$open_seconds" || echo "(open loop reported failures)"
  echo "server CPU over provisioning + storm + open loop: $(( ($(cpu_ticks "$pid_a") - c0) / 100 )) s"
  if [ "$key" = sqlite ]; then
    # One server is both replicas: a fresh one for this step, or its CPU reading between
    # saves would be the open loop's 100 000 agents going offline and rolled up.
    kill "$pid_a" 2>/dev/null || true
    wait "$pid_a" 2>/dev/null || true
    "$bin/openclaw-fleet" user create --email bench@example.com --password-file "$work/pw" \
      --data-dir "$work/sqlite-replicas" > /dev/null
    start_server sqlite-replicas "$work/sqlite-replicas"
    a=$url pid_a=$pid b=$url pid_b=$pid
  fi
  echo
  echo "== [$backend] replica A -> replica B, and $pollers long-polls on B$([ "$key" = sqlite ] && echo " (a fresh server)")"
  local pg=()
  [ -n "$pgdb" ] && pg=(--pg-database "$pgdb")
  loadgen --url "$a" --url-b "$b" --pid-b "$pid_b" --mode replicas --pollers "$pollers" "${pg[@]}" \
    || echo "(replica figures reported failures)"
  # The replicas are done: stopped, so their sweeps of the open loop's agents (going
  # offline) do not share the cores with the benches below, which run servers of their own.
  kill "$pid_a" "$pid_b" 2>/dev/null || true
  wait "$pid_a" "$pid_b" 2>/dev/null || true
  echo
  echo "== [$backend] agent list at $open_agents agents (its own server and seeded database: crates/server/benches/agent_list.rs)"
  cargo bench -q -p openclaw-fleet --bench agent_list -- "$key" "$open_agents" "${BENCH_LIST_REQUESTS:-30}" \
    || echo "(agent list benchmark reported failures)"
  echo
  echo "== [$backend] heartbeat history on disk, ${BENCH_HISTORY_AGENTS:-200} agents x one day at 10 s (its own server and seeded database: crates/server/benches/history.rs)"
  cargo bench -q -p openclaw-fleet --bench history -- "$key" "${BENCH_HISTORY_AGENTS:-200}" \
    || echo "(history benchmark reported failures)"
}

for backend in ${BENCH_BACKENDS:-sqlite postgres}; do
  case $backend in
    sqlite)
      "$bin/openclaw-fleet" user create --email bench@example.com --password-file "$work/pw" \
        --data-dir "$work/sqlite" > /dev/null
      start_server sqlite "$work/sqlite"
      # One server: "replica B" is the same process (in-process wake-ups and events).
      run_table sqlite "SQLite, one server" "$url" "$pid" "$url" "$pid"
      ;;
    postgres)
      autovacuum=$(pg_admin "SHOW autovacuum")
      if [ "$autovacuum" != on ] && [ "${BENCH_PG_AUTOVACUUM:-}" = on ]; then
        pg_admin "ALTER SYSTEM SET autovacuum = on" && pg_admin "SELECT pg_reload_conf()" > /dev/null
        autovacuum_restore=1
        sleep 1
        autovacuum="$(pg_admin "SHOW autovacuum") (turned on for this run: BENCH_PG_AUTOVACUUM=on)"
      fi
      echo
      echo "== [PostgreSQL] autovacuum: $autovacuum"
      case $autovacuum in
        on*) ;;
        *) echo "   WARNING: without autovacuum the agents table and its indexes grow all run long; a production server runs it (BENCH_PG_AUTOVACUUM=on)" ;;
      esac
      db=bench_$$
      pg_dbs+=("$db")
      pg_admin "CREATE DATABASE $db" > /dev/null
      "$bin/openclaw-fleet" user create --email bench@example.com --password-file "$work/pw" \
        --data-dir "$work/pg-a" --database-url "$pg_url/$db" > /dev/null
      mkdir -p "$work/pg-b" && chmod 700 "$work/pg-b"
      cp -p "$work/pg-a/internal.key" "$work/pg-b/internal.key"
      start_server pg-a "$work/pg-a" --database-url "$pg_url/$db"
      url_a=$url pid_a=$pid
      start_server pg-b "$work/pg-b" --database-url "$pg_url/$db"
      run_table postgres "PostgreSQL, two replicas" "$url_a" "$pid_a" "$url" "$pid" "$db"
      ;;
    *) echo "unknown backend $backend"; exit 2 ;;
  esac
done
