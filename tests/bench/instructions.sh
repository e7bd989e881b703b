#!/usr/bin/env bash
# Counts the instructions PostgreSQL spends per run, enqueue and drain apart,
# by running tests/store_bench against a private PostgreSQL whose every
# process runs under callgrind. Unlike a rate, the count hardly moves between
# identical runs (0.05% for the drain, 2% for the enqueue here, against 10-20%
# for rates on a shared 2-core machine), so it can tell changes of a few
# percent apart in one sitting. It counts instructions, not time: waiting
# for the disk (commits) and cache misses are not in it, so read it beside
# the rates, not instead (docs/performance.md, "Counting instructions").
#
# usage: tests/bench/instructions.sh [RUNS] [TYPE]
#   RUNS  runs per measurement (default 20000); TYPE noop (default) or demo.pipeline
# env:    BUILD_DIR (default build), STORE_BENCH (default
#         $BUILD_DIR/tests/store_bench: a build to compare), PORT (default 55499), PREFILL finished
#         runs in the database before measuring (default 50000), KEEP=1 keeps the
#         callgrind files in $WORK/cg for callgrind_annotate,
#         SETUP_SQL: SQL run on the migrated database before measuring (to
#         try a schema change without writing a migration)
# needs:  valgrind (apt-get install valgrind), PostgreSQL 15 (scripts/deps.sh)
#
# Prints, per run: the instructions of the PostgreSQL backends during the
# enqueue phase and during the drain (claim, record, sequence), each the
# difference between a measurement of RUNS runs and one of RUNS/5, so that
# start-up, shut-down and connection costs cancel.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$here/build}
bench=${STORE_BENCH:-$build/tests/store_bench}
runs=${1:-20000}
type=${2:-noop}
port=${PORT:-55499}
prefill=${PREFILL:-50000}
pgbin=$(ls -d /usr/lib/postgresql/15/bin)
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed" >&2; exit 1; }

WORK=$(mktemp -d /tmp/cueball-instr.XXXXXX)
cluster=$WORK/pg
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown postgres "$WORK"
cleanup() {
  if [ -f "$cluster/data/postmaster.pid" ]; then
    kill -INT "$(head -1 "$cluster/data/postmaster.pid")" 2>/dev/null || true
    sleep 5
  fi
  bash "$here/scripts/pg.sh" stop "$cluster" >/dev/null 2>&1 || true
  if [ "${KEEP:-0}" = 1 ]; then echo "callgrind files kept in $WORK/cg" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

url=postgresql://postgres@127.0.0.1:$port
opts=(-c listen_addresses=127.0.0.1 -c autovacuum=off -c jit=off -c log_connections=on)

# PostgreSQL under callgrind, every process (backends are forked, so they
# are traced too), each writing its count to $1/cg.PID when it ends.
start_traced() {
  mkdir -p "$1"
  [ "$(id -u)" -eq 0 ] && chown -R postgres "$WORK"
  as_pg valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$1/cg.%p" \
    "$pgbin/postgres" -D "$cluster/data" -p "$port" -k "$cluster" "${opts[@]}" \
    >>"$1/postgres.log" 2>&1 &
  for _ in $(seq 240); do
    psql -q "$url/postgres" -c "SELECT 1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "instructions.sh: PostgreSQL under valgrind did not start" >&2
  exit 1
}

# Fast shutdown, by the postmaster's pid, and wait for its processes to end.
stop_traced() {
  local pid
  pid=$(head -1 "$cluster/data/postmaster.pid")
  kill -INT "$pid"
  for _ in $(seq 600); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  echo "instructions.sh: PostgreSQL under valgrind did not stop" >&2
  exit 1
}

# Sums the counts of the backends of one lifetime of PostgreSQL: the
# processes that served a connection (the bench's, and psql's readiness
# checks, which cancel out). The background processes (WAL writer, writer,
# checkpointer) wake up on timers, and under valgrind's slowdown their count
# follows the wall clock more than the work, so they are left out.
sum_ir() {
  local pid
  for pid in $(sed -n 's/.*\[\([0-9]*\)\] LOG:  connection received.*/\1/p' "$1/postgres.log"); do
    awk '/^(summary|totals):/ { print $2; exit }' "$1/cg.$pid"
  done | awk '{ s += $1 } END { printf "%.0f", s }'
}

# One measurement on a fresh database, migrated natively: the enqueue in one
# lifetime of PostgreSQL under callgrind, the drain in the next (the start
# and stop of each, like connecting, cancel out in the difference below).
# Prints "ENQUEUE_IR DRAIN_IR".
measure() {
  local n=$1 out=$WORK/cg/$1
  bash "$here/scripts/pg.sh" start "$cluster" "$port" >/dev/null
  psql -q "$url/postgres" -c "DROP DATABASE IF EXISTS instr" -c "CREATE DATABASE instr"
  "$build/cueballd" --database-url "$url/instr" migrate >/dev/null 2>&1
  if [ -n "${SETUP_SQL:-}" ]; then psql -q -v ON_ERROR_STOP=1 "$url/instr" -c "$SETUP_SQL"; fi
  # Finished runs already there, analyzed, as in a database that has been
  # in use: the planner then sees the table sizes it would see in service.
  "$bench" --database-url "$url/instr" --migrate false --runs "$prefill" \
    --type "$type" >/dev/null
  psql -q "$url/instr" -c "VACUUM ANALYZE" -c "CHECKPOINT"
  bash "$here/scripts/pg.sh" stop "$cluster" >/dev/null
  local phase
  for phase in enqueue drain; do
    start_traced "$out/$phase"
    "$bench" --database-url "$url/instr" --migrate false --runs "$n" \
      --type "$type" --phase "$phase" >/dev/null
    stop_traced
  done
  echo "$(sum_ir "$out/enqueue") $(sum_ir "$out/drain")"
}

small=$((runs / 5))
read -r e1 d1 < <(measure "$small")
read -r e2 d2 < <(measure "$runs")
per_run() { python3 -c "print(round(($2 - $1) / ($runs - $small)))"; }
echo "instructions.enqueue  $(per_run "$e1" "$e2") per run  ($type, PostgreSQL backends)"
echo "instructions.drain    $(per_run "$d1" "$d2") per run  ($type, PostgreSQL backends)"
