-- Cancels run $1 with reason $2 unless it finished. A canceled run that was
-- running may end an attempt whose step_started is not written yet
-- (migration 0010): `before` locks the run and reads, of its latest version,
-- when and by whom that attempt was claimed (the claim set updated_at); its
-- run_canceled row then stands for that start too.
WITH before AS (
  SELECT id, CASE WHEN status = 'running' AND start_logged_lease IS DISTINCT FROM lease_id
                  THEN updated_at END AS start_at, lease_owner AS start_by
  FROM cueball_runs
  WHERE id = $1::uuid AND status IN ('enqueued', 'running', 'waiting')
  FOR UPDATE
), upd AS (
  UPDATE cueball_runs r
  SET status = 'canceled', error = $2, lease_id = NULL, lease_owner = NULL,
      lease_expires_at = NULL, wait = NULL, finished_at = now(), updated_at = now()
  FROM before b
  WHERE r.id = b.id
  RETURNING r.*, b.start_at, b.start_by
), ev_rows AS (
  SELECT id AS run_id, 'run_canceled' AS kind, step_name AS step, attempt,
         jsonb_build_object('reason', $2::text) AS data, NULL::text AS also,
         start_at AS started_at, CASE WHEN start_at IS NOT NULL THEN start_by END AS started_by,
         NULL::timestamptz AS created_at, 1::bigint AS n
  FROM upd
), {{events}}, waits AS (
  DELETE FROM cueball_run_waits w USING upd WHERE w.waiter_id = upd.id
)
SELECT {{run_columns}} FROM upd
