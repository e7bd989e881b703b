-- One pass of the waker: waits on runs that are over (only the waiters of
-- $1 when given) and deadlines that have passed (timers, timeouts), $2 of
-- each at most, each locked with SKIP LOCKED so wakers on many daemons share
-- the work.
WITH runs_over AS (
  SELECT r.id FROM cueball_runs r
  WHERE r.status = 'waiting' AND r.wait->>'for' = 'runs'
    AND ($1::uuid[] IS NULL
         OR r.id IN (SELECT waiter_id FROM cueball_run_waits WHERE target_id = ANY($1::uuid[])))
    AND (SELECT CASE WHEN (r.wait->>'any')::boolean THEN count(*) FILTER (WHERE d.done) > 0
                     ELSE bool_and(d.done) END
         FROM (SELECT t.id IS NULL OR t.finished_at IS NOT NULL AS done
               FROM jsonb_array_elements_text(r.wait->'runs') AS w(id)
               LEFT JOIN cueball_runs t ON t.id = w.id::uuid) d)
  LIMIT $2
  FOR UPDATE OF r SKIP LOCKED
), due AS (
  SELECT r.id, CASE WHEN r.wait->>'for' = 'timer' THEN 'timer' ELSE 'timeout' END AS how
  FROM cueball_runs r
  WHERE r.status = 'waiting' AND r.run_at <= now() AND r.id NOT IN (SELECT id FROM runs_over)
  ORDER BY r.run_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), woke AS (
  SELECT id, 'runs' AS how FROM runs_over
  UNION ALL
  SELECT id, how FROM due
), upd AS (
  UPDATE cueball_runs r
  SET status = 'enqueued', run_at = now(), updated_at = now(),
      wait = r.wait || jsonb_build_object('woke', woke.how)
  FROM woke WHERE r.id = woke.id
  RETURNING r.id, r.queue, r.step_name, r.attempt, woke.how
), ev_rows AS (
  SELECT id AS run_id, 'run_woken' AS kind, step_name AS step, attempt,
         jsonb_build_object('woke', how) AS data, NULL::text AS also,
         NULL::timestamptz AS started_at, NULL::text AS started_by,
         NULL::timestamptz AS created_at, row_number() OVER (ORDER BY id) AS n
  FROM upd
), {{events}}, waits AS (
  DELETE FROM cueball_run_waits w USING upd WHERE w.waiter_id = upd.id
)
SELECT id::text AS id, queue FROM upd
