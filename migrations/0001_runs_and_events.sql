-- 0001: the run record and its append-only history.
-- Why: every run and every state change of a run must be durable before the
-- daemon acknowledges it. The CHECK constraints encode the run state machine so
-- that no bug in the engine can write an impossible row.

CREATE TABLE cueball_runs (
  id               uuid        PRIMARY KEY,
  workflow_type    text        NOT NULL,
  queue            text        NOT NULL DEFAULT 'default',
  priority         integer     NOT NULL DEFAULT 0,
  status           text        NOT NULL DEFAULT 'enqueued'
                   CHECK (status IN ('enqueued', 'running', 'waiting',
                                     'succeeded', 'failed', 'canceled')),
  step_index       integer     NOT NULL DEFAULT 0 CHECK (step_index >= 0),
  step_name        text        NOT NULL,
  attempt          integer     NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  input            jsonb       NOT NULL DEFAULT '{}',
  state            jsonb       NOT NULL DEFAULT '{}',
  result           jsonb,
  error            text,
  idempotency_key  text        UNIQUE,
  run_at           timestamptz NOT NULL DEFAULT now(),
  lease_id         uuid,
  lease_owner      text,
  lease_expires_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  -- A running run always has a lease; nothing else does.
  CONSTRAINT cueball_runs_lease_iff_running
    CHECK ((status = 'running') = (lease_id IS NOT NULL AND lease_owner IS NOT NULL
                                   AND lease_expires_at IS NOT NULL)),
  -- Terminal runs always say when they finished; live runs never do.
  CONSTRAINT cueball_runs_finished_iff_terminal
    CHECK ((status IN ('succeeded', 'failed', 'canceled')) = (finished_at IS NOT NULL))
);

-- Claiming scans only ready runs, in dispatch order. Partial: finished runs
-- (the vast majority over time) never enter it, so a large history does not
-- slow the claim down.
CREATE INDEX cueball_runs_ready
  ON cueball_runs (queue, priority, run_at, id)
  WHERE status = 'enqueued';

-- Expired-lease rescue looks only at running runs.
CREATE INDEX cueball_runs_leases
  ON cueball_runs (lease_expires_at)
  WHERE status = 'running';

-- List filters by type and status, newest first (ids are time-ordered UUIDv7).
CREATE INDEX cueball_runs_type_status ON cueball_runs (workflow_type, status, id);
CREATE INDEX cueball_runs_status ON cueball_runs (status, id);

CREATE TABLE cueball_events (
  seq        bigserial   PRIMARY KEY,
  run_id     uuid        NOT NULL REFERENCES cueball_runs (id) ON DELETE CASCADE,
  kind       text        NOT NULL,
  step       text,
  attempt    integer,
  data       jsonb       NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX cueball_events_run ON cueball_events (run_id, seq);
