-- 0016: run deadlines.
--
-- A run may be given a deadline for the whole run at enqueue. Past it, the
-- run is failed (deadline_action 'fail') or canceled ('cancel') wherever
-- it is: enqueued, running (its step is stopped through its cancellation)
-- or waiting. Every daemon looks for runs past their deadline through the
-- partial index below, which holds only unfinished runs with a deadline
-- (a run without one adds no entry).
ALTER TABLE cueball_runs ADD COLUMN deadline_at timestamptz;
ALTER TABLE cueball_runs ADD COLUMN deadline_action text
  CHECK (deadline_action IN ('fail', 'cancel'));
CREATE INDEX cueball_runs_deadline ON cueball_runs (deadline_at)
  WHERE deadline_at IS NOT NULL AND status IN ('enqueued', 'running', 'waiting');
