#!/usr/bin/env bash
# The raw-SQL floor of issue 6, measured on this machine and cluster: what
# PostgreSQL itself does for a job queue with no history, so that cueball's
# figures can be read against it (docs/performance.md, "Side by side").
#
#   bash tests/bench/floor.sh DATABASE_URL [JOBS] [REPEAT]
#
# A job is one row of a table in its own database (created and dropped here):
#   enqueue  INSERT of 100 jobs per statement, 4 clients;
#   drain    claim up to 100 due jobs per statement (UPDATE ... FOR UPDATE SKIP
#            LOCKED, status 'running' with a lock owner and time), then mark
#            them done in a second statement, 2 clients (the best rate on
#            this project's 2-core machines: 2 beat 4 and 8; CLIENTS overrides).
# Each statement commits on its own (synchronous_commit as the cluster has
# it). Prints jobs/s of each phase per repeat and their medians, and of both
# phases together (jobs over the sum of the two phases' times). Needs
# pgbench and psql (scripts/deps.sh installs both).
set -euo pipefail

url=${1:?usage: floor.sh DATABASE_URL [JOBS] [REPEAT]}
jobs=${2:-100000}
repeat=${3:-3}
clients=${CLIENTS:-2}
enq_clients=4
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
pgbench=${PGBENCH:-$bin/pgbench}
[ -x "$pgbench" ] || { echo "floor.sh: pgbench not found (run scripts/deps.sh)" >&2; exit 1; }

# The database named in the URL is only used to create and drop the floor's own.
base=${url%/*}
db=cueball_floor_$$
floor_url=$base/$db
work=$(mktemp -d)
export PGOPTIONS="-c client_min_messages=warning"
cleanup() {
  psql -q "$url" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql -q "$url" -c "CREATE DATABASE $db" >/dev/null

cat >"$work/schema.sql" <<'SQL'
DROP TABLE IF EXISTS floor_jobs;
CREATE TABLE floor_jobs (
  id          bigserial   PRIMARY KEY,
  queue       text        NOT NULL DEFAULT 'default',
  payload     jsonb       NOT NULL DEFAULT '{}',
  status      text        NOT NULL DEFAULT 'queued',
  attempts    integer     NOT NULL DEFAULT 0,
  run_at      timestamptz NOT NULL DEFAULT now(),
  locked_by   text,
  locked_at   timestamptz,
  finished_at timestamptz
);
CREATE INDEX floor_jobs_ready ON floor_jobs (queue, run_at, id) WHERE status = 'queued';
SQL
cat >"$work/enqueue.sql" <<'SQL'
INSERT INTO floor_jobs (payload) SELECT '{}' FROM generate_series(1, 100);
SQL
# \gset keeps the claimed ids; with -M prepared the variable is sent as a
# parameter, so the array text needs no quoting.
cat >"$work/drain.sql" <<'SQL'
WITH c AS (
  UPDATE floor_jobs j SET status = 'running', attempts = j.attempts + 1,
         locked_by = 'floor', locked_at = now()
  WHERE j.id IN (SELECT id FROM floor_jobs
                 WHERE status = 'queued' AND queue = 'default' AND run_at <= now()
                 ORDER BY run_at, id LIMIT 100 FOR UPDATE SKIP LOCKED)
  RETURNING j.id)
SELECT coalesce(array_agg(id), '{}')::text AS ids FROM c \gset
UPDATE floor_jobs SET status = 'done', finished_at = now(), locked_by = NULL, locked_at = NULL
WHERE id = ANY (:ids::bigint[]);
SQL

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

enq_rates=()
drain_rates=()
cycle_rates=()
for r in $(seq "$repeat"); do
  psql -q "$floor_url" -f "$work/schema.sql" >/dev/null
  per_client=$(( (jobs + 100 * enq_clients - 1) / (100 * enq_clients) ))
  total=$(( per_client * 100 * enq_clients ))
  t0=$(now)
  "$pgbench" -n -M prepared -c "$enq_clients" -j 2 -t "$per_client" -f "$work/enqueue.sql" \
    "$floor_url" >"$work/enqueue.log" 2>&1 || { cat "$work/enqueue.log" >&2; exit 1; }
  t1=$(now)
  psql -q "$floor_url" -c "CHECKPOINT" >/dev/null
  # Each client runs until the table is drained: enough transactions for all
  # jobs at 100 per claim, plus slack for claims that come back short.
  per_drain=$(( total / (100 * clients) + 20 ))
  t2=$(now)
  "$pgbench" -n -M prepared -c "$clients" -j 2 -t "$per_drain" -f "$work/drain.sql" \
    "$floor_url" >"$work/drain.log" 2>&1 || { cat "$work/drain.log" >&2; exit 1; }
  t3=$(now)
  left=$(psql -qtA "$floor_url" -c "SELECT count(*) FROM floor_jobs WHERE status <> 'done'")
  [ "$left" = 0 ] || { echo "floor.sh: $left jobs not done" >&2; exit 1; }
  e=$(rate "$total" "$t0" "$t1")
  d=$(rate "$total" "$t2" "$t3")
  c=$(awk -v n="$total" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
    'BEGIN { printf "%.0f", n / ((b - a) + (d - c)) }')
  enq_rates+=("$e")
  drain_rates+=("$d")
  cycle_rates+=("$c")
  echo "floor run $r: $total jobs, enqueue $e jobs/s, drain $d jobs/s, both $c jobs/s"
done
echo "floor.enqueue $(printf '%s\n' "${enq_rates[@]}" | median) jobs/s (median of $repeat)"
echo "floor.drain $(printf '%s\n' "${drain_rates[@]}" | median) jobs/s (median of $repeat)"
# Enqueue and drain together: the jobs over the sum of both phases' times.
echo "floor.both $(printf '%s\n' "${cycle_rates[@]}" | median) jobs/s (median of $repeat)"
