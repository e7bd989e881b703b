-- 0003: the event log as an ordered, gap-free stream; durable subscriptions;
-- retention with compact summaries.
--
-- Why a second number beside seq: seq comes from a sequence when the event is
-- inserted, but transactions commit in a different order than they draw
-- sequence values, so a reader at "seq > 41" can later find a 40 that
-- committed late. `position` is given only to committed events, by one
-- sequencer at a time (serialized on the head row), in one transaction that
-- also advances the head. Positions are therefore dense (1, 2, 3, ... with no
-- holes) and a reader that has seen position P never later finds a new event
-- at or below P. See docs/design.md, "The event stream".

ALTER TABLE cueball_events ADD COLUMN position bigint;

-- Events already recorded are committed: number them in seq order.
UPDATE cueball_events e SET position = o.n
FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM cueball_events) o
WHERE e.seq = o.seq;

CREATE UNIQUE INDEX cueball_events_position ON cueball_events (position);
-- The sequencer's work list: only events still waiting for a position.
CREATE INDEX cueball_events_unsequenced ON cueball_events (seq) WHERE position IS NULL;

-- One row: the highest position given out. The sequencer locks this row, so
-- sequencers on every daemon take turns.
CREATE TABLE cueball_event_head (
  id             integer PRIMARY KEY CHECK (id = 1),
  position       bigint  NOT NULL CHECK (position >= 0),
  -- Highest position of any event removed by retention (0: none yet).
  pruned_through bigint  NOT NULL DEFAULT 0 CHECK (pruned_through >= 0)
);
INSERT INTO cueball_event_head (id, position)
SELECT 1, coalesce(max(position), 0) FROM cueball_events;

-- A named, durable cursor into the stream: the consumer acknowledges positions
-- and resumes after the last one acknowledged. Retention never removes an
-- event above the lowest acknowledged position.
CREATE TABLE cueball_subscriptions (
  name       text        PRIMARY KEY CHECK (name <> ''),
  position   bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  acked_at   timestamptz
);

-- What is left of a run once retention has removed its record, input, state,
-- result, events and artifacts.
CREATE TABLE cueball_run_summaries (
  id            uuid        PRIMARY KEY,
  workflow_type text        NOT NULL,
  queue         text        NOT NULL,
  status        text        NOT NULL CHECK (status IN ('succeeded', 'failed', 'canceled')),
  step_index    integer     NOT NULL,
  step_name     text        NOT NULL,
  attempt       integer     NOT NULL,
  created_at    timestamptz NOT NULL,
  started_at    timestamptz,
  finished_at   timestamptz NOT NULL,
  pruned_at     timestamptz NOT NULL DEFAULT now()
);

-- Retention looks for finished runs by age.
CREATE INDEX cueball_runs_finished ON cueball_runs (finished_at) WHERE finished_at IS NOT NULL;
