-- Sends failed run $1 back to the queue from its failed step, with reason $2.
WITH upd AS (
  UPDATE cueball_runs
  SET status = 'enqueued', attempt = 0, error = NULL, result = NULL, finished_at = NULL,
      run_at = now(), updated_at = now()
  WHERE id = $1::uuid AND status = 'failed'
  RETURNING *
), ev_rows AS (
  SELECT id AS run_id, 'run_retried' AS kind, step_name AS step, 0 AS attempt,
         jsonb_build_object('reason', $2::text) AS data, NULL::text AS also,
         NULL::timestamptz AS started_at, NULL::text AS started_by,
         NULL::timestamptz AS created_at, 1::bigint AS n
  FROM upd
), {{events}}
SELECT {{run_columns}} FROM upd
