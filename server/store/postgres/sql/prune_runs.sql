-- Retention: finished runs due for removal ($1/$2/$3: ms to keep succeeded,
-- failed and canceled runs, NULL keeps them; $4 at most; $5 keep a summary),
-- oldest first, skipping runs that still have an event a subscription has
-- not acknowledged (or one not yet numbered). The summary, the removal (the
-- run and its events) and the horizon update are one statement. Events are
-- read through cueball_event_log, one row per event (migration 0009).
WITH head AS (
  SELECT position FROM cueball_event_head WHERE id = 1
), horizon AS (
  SELECT least((SELECT position FROM head),
               coalesce((SELECT min(position) FROM cueball_subscriptions),
                        (SELECT position FROM head))) AS p
), due AS (
  SELECT r.id FROM cueball_runs r
  WHERE r.finished_at IS NOT NULL
    AND ((r.status = 'succeeded' AND $1::bigint IS NOT NULL
          AND r.finished_at < now() - $1::bigint * interval '1 millisecond')
      OR (r.status = 'failed' AND $2::bigint IS NOT NULL
          AND r.finished_at < now() - $2::bigint * interval '1 millisecond')
      OR (r.status = 'canceled' AND $3::bigint IS NOT NULL
          AND r.finished_at < now() - $3::bigint * interval '1 millisecond'))
  ORDER BY r.finished_at
  LIMIT $4
  FOR UPDATE SKIP LOCKED
), victims AS (
  SELECT d.id FROM due d
  WHERE NOT EXISTS (
    SELECT 1 FROM cueball_event_log l, horizon
    WHERE l.run_id = d.id AND (l.position IS NULL OR l.position > horizon.p))
), summary AS (
  INSERT INTO cueball_run_summaries (id, workflow_type, queue, status, step_index, step_name,
                                     attempt, created_at, started_at, finished_at)
  SELECT r.id, r.workflow_type, r.queue, r.status, r.step_index, r.step_name, r.attempt,
         r.created_at, r.started_at, r.finished_at
  FROM cueball_runs r JOIN victims v ON v.id = r.id
  WHERE $5::boolean
  ON CONFLICT (id) DO NOTHING
), top AS (
  SELECT max(l.position) AS m
  FROM cueball_event_log l JOIN victims v ON v.id = l.run_id
), del_tags AS (
  -- The runs' tags (migration 0014), found by the primary key.
  DELETE FROM cueball_run_tags t
  USING (SELECT r.id, e.key, e.value FROM cueball_runs r JOIN victims v ON v.id = r.id,
         jsonb_each_text(r.tags) e WHERE r.tags IS NOT NULL) x
  WHERE t.key = x.key AND t.value = x.value AND t.run_id = x.id
), del AS (
  DELETE FROM cueball_runs r USING victims v WHERE r.id = v.id RETURNING r.id
), del_events AS (
  DELETE FROM cueball_events e USING victims v WHERE e.run_id = v.id RETURNING e.batch_id
), del_batches AS (
  -- Batches whose last events go now (the statement's snapshot still sees
  -- the deleted events, so count what is left without them). Batch 0, of
  -- the events numbered before migration 0006, stays.
  DELETE FROM cueball_event_batches b
  USING (SELECT batch_id, count(*) AS n FROM del_events GROUP BY batch_id) d
  WHERE b.id = d.batch_id AND b.id <> 0
    AND (SELECT count(*) FROM cueball_events e WHERE e.batch_id = b.id) = d.n
), del_blobs AS (
  DELETE FROM cueball_blobs b USING victims v WHERE b.run_id = v.id
), del_signals AS (
  DELETE FROM cueball_signals s USING victims v WHERE s.run_id = v.id
), del_waits AS (
  DELETE FROM cueball_run_waits w USING victims v WHERE w.waiter_id = v.id
), mark AS (
  UPDATE cueball_event_head
  SET pruned_through = greatest(pruned_through, (SELECT m FROM top))
  WHERE id = 1 AND (SELECT m FROM top) IS NOT NULL
)
SELECT (SELECT count(*) FROM del) AS pruned,
       (SELECT count(*) FROM due) - (SELECT count(*) FROM victims) AS held,
       (SELECT p FROM horizon) AS horizon
