-- Events are written in batches (migration 0006): a statement that writes
-- events defines a CTE ev_rows before including this fragment, with one row
-- per event row:
--   run_id, kind, step, attempt, data (jsonb);
--   also (text): when set, the row stands for a second event of that kind
--     after its own (migration 0009);
--   started_at (timestamptz), started_by (text): when set, the row stands
--     for the attempt's step_started before its own event (migration 0010);
--   created_at: the event's time (NULL: the statement's);
--   n: the row's place in the batch (1, 2, 3, ...; a run's events in the
--     run's order), leaving room for the events a row stands for.
-- The batch row says how many events there are; the sequencer gives them
-- their positions after the statement commits. The batch id is only a
-- name: batches are numbered in order of last_seq (0006), and seqs are drawn
-- in the batch's order, a row's extra events at seq + 1 and seq + 2. A
-- batch with no events writes no batch row.
ev_batch AS (
  SELECT nextval('cueball_event_batches_id_seq') AS id
), ev AS (
  INSERT INTO cueball_events (run_id, kind, step, attempt, data, batch_id, ord, also, started_at,
                              started_by, created_at)
  SELECT r.run_id, r.kind, r.step, r.attempt, r.data, (SELECT id FROM ev_batch), r.n, r.also,
         r.started_at, r.started_by, coalesce(r.created_at, now())
  FROM ev_rows r
  ORDER BY r.n
  RETURNING seq, also, started_at
), ev_count AS (
  INSERT INTO cueball_event_batches (id, count, last_seq)
  SELECT (SELECT id FROM ev_batch), count(*) + count(also) + count(started_at),
         max(seq + (also IS NOT NULL)::int + (started_at IS NOT NULL)::int)
  FROM ev HAVING count(*) > 0
)
