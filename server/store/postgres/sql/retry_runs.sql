-- One batch of a bulk retry: of the runs with a status among $10 (failed)
-- passing the filters (fragments/list_filters.sql: $1..$9, $5 the cursor), the newest
-- $11, sent back to the queue from their failed step with reason $12, as
-- retry_run.sql sends one. Rows as in cancel_runs.sql.
WITH batch AS (
  SELECT r.id FROM cueball_runs r
  WHERE r.status = ANY($10::text[])
  {{list_filters}}
  ORDER BY r.id DESC LIMIT $11
  FOR UPDATE
), upd AS (
  UPDATE cueball_runs r
  SET status = 'enqueued', attempt = 0, error = NULL, result = NULL, finished_at = NULL,
      run_at = now(), updated_at = now()
  FROM batch b
  WHERE r.id = b.id
  RETURNING r.id, r.workflow_type, r.queue, r.status, r.step_index, r.step_name, r.attempt
), ev_rows AS (
  SELECT id AS run_id, 'run_retried' AS kind, step_name AS step, 0 AS attempt,
         jsonb_build_object('reason', $12::text) AS data, NULL::text AS also,
         NULL::timestamptz AS started_at, NULL::text AS started_by,
         NULL::timestamptz AS created_at, row_number() OVER (ORDER BY id) AS n
  FROM upd
), {{events}}, info AS (
  SELECT (SELECT id::text FROM batch ORDER BY id LIMIT 1) AS cursor,
         (SELECT count(*) FROM batch) AS scanned,
         -- Announces the queues with runs ready again (delivered at commit).
         (SELECT count(pg_notify('cueball_ready', q)) FROM (SELECT DISTINCT queue FROM upd) d(q))
           AS notified
)
SELECT u.id::text AS id, u.workflow_type, u.queue, u.status, u.step_index, u.step_name, u.attempt,
       i.cursor, i.scanned, i.notified
FROM info i LEFT JOIN upd u ON true
