-- 0013: run tags, and queues that can be paused.
--
-- Tags: a run's key=value labels, given at enqueue, as a JSON object of
-- strings (NULL for a run without tags, so an untagged run costs nothing:
-- adding a nullable column without a default rewrites no row). List and the
-- bulk actions filter with `tags @> {...}`, served by a GIN index that holds
-- only tagged runs.
ALTER TABLE cueball_runs ADD COLUMN tags jsonb;
CREATE INDEX cueball_runs_tags ON cueball_runs USING gin (tags jsonb_path_ops)
  WHERE tags IS NOT NULL;

-- Queues that an operator has acted on. A queue needs no row to be used: a
-- run's queue is any valid name. A row with paused_at set pauses the queue:
-- the claim statement (sql/claim.sql) starts nothing from it, on every
-- daemon and remote worker, while enqueue still accepts runs.
CREATE TABLE cueball_queues (
  name         text        PRIMARY KEY,
  paused_at    timestamptz,
  pause_reason text,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
