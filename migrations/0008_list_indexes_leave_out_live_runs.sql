-- 0008: the list indexes leave out enqueued and running runs.
--
-- Why: no update of a run is HOT (status is in index predicates), so every
-- write of a run adds an entry to each index whose predicate the new row
-- satisfies. A no-op run is written three times (enqueued, running,
-- succeeded): `type_status` took three entries per run and `status_open`
-- two, about 15,000 PostgreSQL instructions each, 9% of all a no-op run
-- costs the database (docs/performance.md, "Counting instructions").
--
-- A run is enqueued or running only for moments, and the rows in those
-- states are few and found another way: enqueued runs by the ready index
-- (or the primary key newest first, as a backlog is the newest runs), and
-- running runs by the lease index, bounded by the workers. List asks for
-- them in branches of their own (PgRunStore::List). The rows that stay,
-- waiting and finished runs, keep both list paths: by type and status, and
-- by a rare status alone (succeeded runs, the bulk, are found by walking
-- the primary key newest first).
--
-- A run now gets one list index entry in its life instead of five.
-- Building the indexes blocks writes to cueball_runs while they build
-- (seconds per million runs).

DROP INDEX cueball_runs_type_status;
CREATE INDEX cueball_runs_type_status
  ON cueball_runs (workflow_type, status, id)
  WHERE status NOT IN ('enqueued', 'running');

DROP INDEX cueball_runs_status_open;
CREATE INDEX cueball_runs_status_rare
  ON cueball_runs (status, id)
  WHERE status IN ('waiting', 'failed', 'canceled');
