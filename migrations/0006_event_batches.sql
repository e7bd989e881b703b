-- 0006: stream positions are given per batch of events, not per event.
--
-- Why: until now the sequencer gave each committed event its position by
-- updating the event row: a second write of every event (a new row version,
-- an entry in each of its indexes, a dead row for vacuum). Under load that
-- was about a third of the database's time (docs/performance.md). Now every
-- statement that writes events also writes one batch row naming how many it
-- wrote; each event carries its batch and its 1-based ordinal `ord` in it.
-- The sequencer numbers batches, one row each: a batch at position P holds
-- the events at P + 1 .. P + count. Positions stay dense and are still given
-- only to committed events, under the head row lock, in one transaction with
-- the head (docs/design.md, "The event stream").
--
-- Batches are numbered in the order of `last_seq`, the highest seq among
-- their events. A statement that writes a run's event holds the run's row
-- lock (or inserts the run), and a run's earlier events committed before
-- that, so their seqs, all drawn before that commit, are lower than the seqs
-- drawn after it: a run's events keep their order in the stream.
--
-- Every daemon sharing a database must run a build with this migration: an
-- older build writes events without a batch, which this schema refuses.

-- Nobody writes events while they are renumbered below.
LOCK TABLE cueball_events IN EXCLUSIVE MODE;
LOCK TABLE cueball_event_head IN EXCLUSIVE MODE;

CREATE TABLE cueball_event_batches (
  id       bigint  PRIMARY KEY,
  count    integer NOT NULL CHECK (count > 0),
  last_seq bigint  NOT NULL,
  -- The head before this batch; NULL until the sequencer numbers it.
  position bigint  CHECK (position >= 0)
);
CREATE SEQUENCE cueball_event_batches_id_seq OWNED BY cueball_event_batches.id;

-- Readers find a batch by position; the sequencer finds pending batches in
-- numbering order.
CREATE UNIQUE INDEX cueball_event_batches_position ON cueball_event_batches (position);
CREATE INDEX cueball_event_batches_pending
  ON cueball_event_batches (last_seq) WHERE position IS NULL;

-- Events still waiting for the old sequencer are numbered now, as it would.
WITH todo AS (
  SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM cueball_events WHERE position IS NULL
), upd AS (
  UPDATE cueball_events e SET position = h.position + todo.n
  FROM todo, cueball_event_head h
  WHERE e.seq = todo.seq AND h.id = 1
  RETURNING 1
)
UPDATE cueball_event_head SET position = position + (SELECT count(*) FROM upd) WHERE id = 1;

-- Every event numbered so far belongs to batch 0 at position 0, in which its
-- ordinal is its position.
ALTER TABLE cueball_events ADD COLUMN batch_id bigint, ADD COLUMN ord bigint;
INSERT INTO cueball_event_batches (id, count, last_seq, position)
SELECT 0, h.position, coalesce((SELECT max(seq) FROM cueball_events), 0), 0
FROM cueball_event_head h WHERE h.id = 1 AND h.position > 0;
UPDATE cueball_events SET batch_id = 0, ord = position;

ALTER TABLE cueball_events ALTER COLUMN batch_id SET NOT NULL,
                           ALTER COLUMN ord SET NOT NULL,
                           ADD CONSTRAINT cueball_events_ord_positive CHECK (ord > 0);
DROP INDEX cueball_events_unsequenced;
DROP INDEX cueball_events_position;
ALTER TABLE cueball_events DROP COLUMN position;
CREATE UNIQUE INDEX cueball_events_batch ON cueball_events (batch_id, ord);
