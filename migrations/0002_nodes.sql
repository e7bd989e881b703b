-- 0002: every daemon registers itself and heartbeats, so operators can see
-- which daemons share this database and which are alive (`cueball nodes`).
-- A clean shutdown sets stopped_at; a crashed daemon just stops heartbeating.

CREATE TABLE cueball_nodes (
  id           text        PRIMARY KEY,
  host         text        NOT NULL,
  pid          integer     NOT NULL,
  version      text        NOT NULL,
  listen       text        NOT NULL,
  queues       text[]      NOT NULL,
  workers      integer     NOT NULL CHECK (workers > 0),
  started_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  stopped_at   timestamptz
);

CREATE INDEX cueball_nodes_last_seen ON cueball_nodes (last_seen_at);
