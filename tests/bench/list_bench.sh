#!/usr/bin/env bash
# Times List on a large table: a private PostgreSQL, a database migrated and
# filled with RUNS runs (default 1,000,000) in every status, analyzed, then
# tests/store_bench --phase list, which prints the median time of the first
# page (50 runs) for every mix of type and status filter
# (docs/performance.md, "Listing a million runs").
#
# The runs, ids in creation order as the daemon's UUIDv7 are: the newest 7%
# enqueued and the newest 0.01% of all running (a backlog is the newest
# runs); before them 2% failed, 0.5% canceled, 0.1% waiting, the rest
# succeeded. Types: a third demo.pipeline, 0.4% `rare`, the rest noop.
#
# usage: tests/bench/list_bench.sh [RUNS]
# env:   BUILD_DIR (default build), PORT (default 55498),
#        SETUP_SQL: SQL run on the migrated database before filling it (to
#        try other indexes without writing a migration),
#        PLANS=1: print each List statement's plan after the times
#        (auto_explain, from the server's log)
# needs: PostgreSQL 15 (scripts/deps.sh)
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$here/build}
runs=${1:-1000000}
port=${PORT:-55498}
cluster=$(mktemp -d /tmp/cueball-list.XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres "$cluster"
trap 'bash "$here/scripts/pg.sh" stop "$cluster" >/dev/null 2>&1 || true; rm -rf "$cluster"' EXIT

url=postgresql://postgres@127.0.0.1:$port
bash "$here/scripts/pg.sh" start "$cluster" "$port" >/dev/null
psql -q "$url/postgres" -c "CREATE DATABASE list"
"$build/cueballd" --database-url "$url/list" migrate >/dev/null 2>&1
if [ -n "${SETUP_SQL:-}" ]; then psql -q -v ON_ERROR_STOP=1 "$url/list" -c "$SETUP_SQL"; fi

psql -q -v ON_ERROR_STOP=1 -v runs="$runs" "$url/list" <<'SQL'
INSERT INTO cueball_runs (id, workflow_type, status, step_name, created_at,
                          finished_at, lease_id, lease_owner, lease_expires_at, wait)
SELECT (lpad(to_hex(ms), 12, '0') || '7' || substr(md5(g::text), 1, 19))::uuid,
       CASE WHEN g % 1000 IN (2, 3, 7, 51) THEN 'rare'
            WHEN g % 3 = 0 THEN 'demo.pipeline' ELSE 'noop' END,
       st, 'step', to_timestamp(ms / 1000.0),
       CASE WHEN st IN ('succeeded', 'failed', 'canceled') THEN now() END,
       CASE WHEN st = 'running' THEN gen_random_uuid() END,
       CASE WHEN st = 'running' THEN 'node-a' END,
       CASE WHEN st = 'running' THEN now() + interval '1 hour' END,
       CASE WHEN st = 'waiting' THEN '{"for": "timer"}'::jsonb END
FROM (SELECT g, 1700000000000 + g * 10 AS ms,
             CASE WHEN g > :runs * 0.9999 THEN 'running'
                  WHEN g > :runs * 0.93 THEN 'enqueued'
                  WHEN g % 50 = 1 THEN 'failed'
                  WHEN g % 200 = 2 THEN 'canceled'
                  WHEN g % 1000 = 3 THEN 'waiting'
                  ELSE 'succeeded' END AS st
      FROM generate_series(1, :runs) g) s;
VACUUM ANALYZE cueball_runs;
SQL

repeat=5
if [ "${PLANS:-0}" = 1 ]; then
  repeat=1
  psql -q "$url/list" -c "ALTER DATABASE list SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER DATABASE list SET auto_explain.log_min_duration = 0" \
    -c "ALTER DATABASE list SET auto_explain.log_analyze = on"
fi
"$build/tests/store_bench" --database-url "$url/list" --migrate false --phase list \
  --list-types noop,rare,absent.type --list-repeat "$repeat"
if [ "${PLANS:-0}" = 1 ]; then
  # The plans, in the order of the lines above, each headed by its number.
  awk '/LOG:  duration: .* plan:/ { n++; printf "--- plan %d\n", n; on = 1; next }
       /^[^\t]/ { on = 0 }
       on && !/Query Text:/ { print }' "$cluster/postgres.log"
fi
