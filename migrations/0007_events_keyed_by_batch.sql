-- 0007: events are keyed by (batch_id, ord); seq keeps no index of its own.
--
-- Why: every event row paid for three index entries: the primary key on
-- seq, the unique (batch_id, ord) that stream reads walk, and (run_id, seq)
-- for a run's history. No statement looks an event up by seq alone: the
-- stream reads by batch, history and retention by run, and seq only orders a
-- run's events (inside the run index) and names a batch's last event. So the
-- (batch_id, ord) index becomes the primary key and the seq index goes: one
-- index entry less per event, three per no-op run (docs/performance.md,
-- "Events keyed by batch"). seq is still drawn from its sequence, so it stays
-- unique and in order.

ALTER TABLE cueball_events DROP CONSTRAINT cueball_events_pkey;
ALTER TABLE cueball_events
  ADD CONSTRAINT cueball_events_batch PRIMARY KEY USING INDEX cueball_events_batch;
