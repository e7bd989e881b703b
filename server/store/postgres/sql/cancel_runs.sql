-- One batch of a bulk cancel: of the runs with a status among $10 (enqueued,
-- running, waiting) passing the filters (fragments/list_filters.sql: $1..$9, $5 the
-- cursor), the newest $11, canceled with reason $12 as cancel_run.sql cancels
-- one (the step_started of an attempt it ends included). FOR UPDATE waits for
-- a run being recorded and then takes it as it is now: a run that finished
-- meanwhile drops out, and the scan reads on to fill the batch. One row per
-- canceled run, each with the batch's cursor (the oldest run it locked) and
-- size; one row with NULL run columns when it canceled none.
WITH batch AS (
  SELECT r.id, CASE WHEN r.status = 'running' AND r.start_logged_lease IS DISTINCT FROM r.lease_id
                    THEN r.updated_at END AS start_at, r.lease_owner AS start_by
  FROM cueball_runs r
  WHERE r.status = ANY($10::text[])
  {{list_filters}}
  ORDER BY r.id DESC LIMIT $11
  FOR UPDATE
), upd AS (
  UPDATE cueball_runs r
  SET status = 'canceled', error = $12, lease_id = NULL, lease_owner = NULL,
      lease_expires_at = NULL, wait = NULL, finished_at = now(), updated_at = now()
  FROM batch b
  WHERE r.id = b.id
  RETURNING r.id, r.workflow_type, r.queue, r.status, r.step_index, r.step_name, r.attempt,
            b.start_at, b.start_by
), ev_rows AS (
  SELECT id AS run_id, 'run_canceled' AS kind, step_name AS step, attempt,
         jsonb_build_object('reason', $12::text) AS data, NULL::text AS also,
         start_at AS started_at, CASE WHEN start_at IS NOT NULL THEN start_by END AS started_by,
         NULL::timestamptz AS created_at,
         sum(1 + (start_at IS NOT NULL)::int) OVER (ORDER BY id)
           - (start_at IS NOT NULL)::int AS n
  FROM upd
), {{events}}, waits AS (
  DELETE FROM cueball_run_waits w USING upd WHERE w.waiter_id = upd.id
), info AS (
  SELECT (SELECT id::text FROM batch ORDER BY id LIMIT 1) AS cursor,
         (SELECT count(*) FROM batch) AS scanned,
         -- Announces each canceled run (delivered at commit).
         (SELECT count(pg_notify('cueball_finished', id::text)) FROM upd) AS notified
)
SELECT u.id::text AS id, u.workflow_type, u.queue, u.status, u.step_index, u.step_name, u.attempt,
       i.cursor, i.scanned, i.notified
FROM info i LEFT JOIN upd u ON true
