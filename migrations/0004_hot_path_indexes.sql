-- 0004: fewer index writes on the hot path (measured: docs/performance.md).
--
-- Every state change of a run rewrites its row, and because `status` is in
-- index predicates the update is never HOT: each one adds an entry to every
-- index of cueball_runs whose predicate the new row satisfies. A no-op run
-- is written three times (enqueue, claim, finish), so each index costs three
-- insertions per run; partial predicates that exclude the common rows cost
-- nothing for them.

-- Idempotency keys are optional and most runs have none: index only keyed
-- runs. Enqueue's ON CONFLICT names the same predicate.
ALTER TABLE cueball_runs DROP CONSTRAINT cueball_runs_idempotency_key_key;
CREATE UNIQUE INDEX cueball_runs_idempotency_key
  ON cueball_runs (idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Listing by status alone: succeeded runs, the bulk of the table, are found
-- by walking the primary key newest first (they are common, so the walk is
-- short); the rarer statuses keep an index.
DROP INDEX cueball_runs_status;
CREATE INDEX cueball_runs_status_open
  ON cueball_runs (status, id) WHERE status <> 'succeeded';

-- The foreign key from events to runs made every event insert look up and
-- key-share-lock its run row (four per no-op run). Events are written only by
-- the store, in the same statement as the run change they describe, and
-- retention deletes a run's events with the run explicitly.
ALTER TABLE cueball_events DROP CONSTRAINT cueball_events_run_id_fkey;
