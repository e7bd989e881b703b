-- 0012: remote workers (cueball.v1.Workers).
--
-- The definitions of workflow types: each daemon writes its own types' (C++
-- and workflow files; source 'builtin' or the file), and the first remote
-- worker to register a type of its own writes that one (source 'worker').
-- A worker's later registration is compared with what is stored here, so
-- that two workers never serve one type with two definitions. The
-- definition is JSON: {"description", "steps": [{"name", "kind", "retry":
-- {"max_attempts", "backoff", "initial_ms", "max_ms"}, "timeout_ms"}]}.
CREATE TABLE cueball_workflow_types (
  name       text        PRIMARY KEY,
  source     text        NOT NULL,
  definition jsonb       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Remote workers: registered through any daemon, alive while they
-- heartbeat within their lease. `types` lists what each serves: a type's
-- name, or 'type/step' for one remote step of a type a workflow file
-- defines. Their attempts' leases are on cueball_runs (lease_owner = id),
-- so a worker that vanishes loses them like a daemon would.
CREATE TABLE cueball_workers (
  id                text        PRIMARY KEY,
  identity          text        NOT NULL,
  node              text        NOT NULL,
  queues            text[]      NOT NULL,
  types             text[]      NOT NULL,
  slots             integer     NOT NULL CHECK (slots > 0),
  lease_ms          integer     NOT NULL CHECK (lease_ms > 0),
  in_flight         integer     NOT NULL DEFAULT 0,
  registered_at     timestamptz NOT NULL DEFAULT now(),
  last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at        timestamptz
);

CREATE INDEX cueball_workers_last_heartbeat ON cueball_workers (last_heartbeat_at);
