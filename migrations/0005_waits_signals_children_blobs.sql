-- 0005: runs that wait (signals, durable timers, other runs), child runs,
-- signals and blobs.
-- Why: a step can suspend its run without holding a worker thread. The run
-- then has status 'waiting' and `wait` says what for; `run_at` is its
-- deadline (the timer, or the timeout of the wait; 9999-12-31, meaning
-- never, for none), so one partial index finds every wait that is due. Whoever wakes the run keeps
-- `wait` and adds `woke` (signal, runs, timer or timeout): the next attempt
-- reads it, and recording that attempt clears it.

ALTER TABLE cueball_runs ADD COLUMN parent_id uuid;
ALTER TABLE cueball_runs ADD COLUMN wait jsonb;

-- A waiting run always says what it waits for.
ALTER TABLE cueball_runs ADD CONSTRAINT cueball_runs_waiting_has_wait
  CHECK (status <> 'waiting' OR wait IS NOT NULL) NOT VALID;
ALTER TABLE cueball_runs VALIDATE CONSTRAINT cueball_runs_waiting_has_wait;

-- Children of a run (get lists them; cancel reaches them). No foreign key:
-- retention removes runs one by one, and a parent may go before its children.
CREATE INDEX cueball_runs_children ON cueball_runs (parent_id, id) WHERE parent_id IS NOT NULL;

-- Waits due (timers and timeouts), soonest first.
CREATE INDEX cueball_runs_waiting ON cueball_runs (run_at) WHERE status = 'waiting';

-- Runs waiting on other runs, by the run they wait on: a finished run finds
-- its waiters here.
CREATE TABLE cueball_run_waits (
  waiter_id uuid NOT NULL,
  target_id uuid NOT NULL,
  PRIMARY KEY (target_id, waiter_id)
);
CREATE INDEX cueball_run_waits_waiter ON cueball_run_waits (waiter_id);

-- Signals sent to a run. A signal is buffered until a step asks for its name;
-- then it is bound to that step (step_index) for good, oldest first, so a
-- step that runs again reads the same signal and no signal is applied twice.
CREATE TABLE cueball_signals (
  seq             bigserial   PRIMARY KEY,
  run_id          uuid        NOT NULL,
  name            text        NOT NULL,
  payload         jsonb       NOT NULL DEFAULT 'null',
  idempotency_key text,
  step_index      integer,
  created_at      timestamptz NOT NULL DEFAULT now(),
  bound_at        timestamptz,
  CONSTRAINT cueball_signals_key UNIQUE (run_id, idempotency_key)
);
CREATE INDEX cueball_signals_run ON cueball_signals (run_id, name, seq);

-- Named artifacts of a run (bytes with a content type), removed with the run.
CREATE TABLE cueball_blobs (
  run_id       uuid        NOT NULL,
  name         text        NOT NULL,
  content_type text        NOT NULL DEFAULT 'application/octet-stream',
  data         bytea       NOT NULL,
  size         bigint      NOT NULL,
  sha256       text        NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, name)
);
