-- 0009: one event row may stand for two events.
--
-- Why: an event row costs PostgreSQL about 56,000 instructions (its share
-- of the statement's JSON, the insert, two index entries, the batch's
-- count), and a no-op run wrote four: enqueued, step_started, step_succeeded
-- and run_succeeded. The last two differ only in kind (same run, step,
-- attempt, result and time), so the store now writes them as one row
-- (docs/design.md, "The event stream"; docs/performance.md, "One row, two
-- events").
--
-- A row whose `also` is set is two events: the row's own, at `ord` and
-- `seq`, then one of kind `also` at `ord + 1` and `seq + 1`, the rest the
-- same. Its batch counts both. Every reader expands such a row; the view
-- below does it for people and tests that query events by hand.
--
-- Seqs step by 2 from here on, so `seq + 1` is never drawn for another
-- event: seqs stay unique and in a run's order.
--
-- Every daemon sharing a database must run a build with this migration: an
-- older build reads a pair as one event.

ALTER TABLE cueball_events ADD COLUMN also text;
ALTER SEQUENCE cueball_events_seq_seq INCREMENT BY 2;

-- One row per event, as clients see them (position NULL until numbered).
CREATE VIEW cueball_event_log AS
SELECT e.run_id, e.seq + x.i AS seq, CASE WHEN x.i = 0 THEN e.kind ELSE e.also END AS kind,
       e.step, e.attempt, e.data, e.created_at, e.batch_id, e.ord + x.i AS ord,
       b.position + e.ord + x.i AS position
FROM cueball_events e
CROSS JOIN LATERAL generate_series(0, CASE WHEN e.also IS NULL THEN 0 ELSE 1 END) AS x(i)
LEFT JOIN cueball_event_batches b ON b.id = e.batch_id;
