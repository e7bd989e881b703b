-- Runs past their deadline (migration 0016), not finished, most overdue
-- first, at most $1: failed (deadline_action 'fail') or canceled
-- ('cancel') wherever they are, as cancel_run.sql ends a run (the
-- step_started of an attempt it ends included), each with its event, its
-- waits removed and a NOTIFY cueball_finished, on which the daemon running
-- its step stops it. Runs being recorded are skipped (SKIP LOCKED) and
-- taken by the next pass.
WITH due AS (
  SELECT r.id, CASE WHEN r.status = 'running' AND r.start_logged_lease IS DISTINCT FROM r.lease_id
                    THEN r.updated_at END AS start_at, r.lease_owner AS start_by
  FROM cueball_runs r
  WHERE r.deadline_at IS NOT NULL AND r.deadline_at <= now()
    AND r.status IN ('enqueued', 'running', 'waiting')
  ORDER BY r.deadline_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED
), upd AS (
  UPDATE cueball_runs r
  SET status = CASE WHEN r.deadline_action = 'cancel' THEN 'canceled' ELSE 'failed' END,
      error = 'deadline passed: the run had to finish by '
              || to_char(r.deadline_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, wait = NULL,
      finished_at = now(), updated_at = now()
  FROM due d
  WHERE r.id = d.id
  RETURNING r.id, r.workflow_type, r.queue, r.status, r.step_index, r.step_name, r.attempt,
            r.error, r.deadline_at, d.start_at, d.start_by
), ev_rows AS (
  SELECT id AS run_id, CASE WHEN status = 'canceled' THEN 'run_canceled' ELSE 'run_failed' END
           AS kind, step_name AS step, attempt,
         jsonb_build_object(CASE WHEN status = 'canceled' THEN 'reason' ELSE 'error' END, error,
                            'deadline', deadline_at) AS data,
         NULL::text AS also, start_at AS started_at,
         CASE WHEN start_at IS NOT NULL THEN start_by END AS started_by,
         NULL::timestamptz AS created_at,
         sum(1 + (start_at IS NOT NULL)::int) OVER (ORDER BY id)
           - (start_at IS NOT NULL)::int AS n
  FROM upd
), {{events}}, waits AS (
  DELETE FROM cueball_run_waits w USING upd WHERE w.waiter_id = upd.id
)
SELECT u.id::text AS id, u.workflow_type, u.queue, u.status, u.step_index, u.step_name,
       u.attempt, u.error,
       (SELECT count(pg_notify('cueball_finished', x.id::text)) FROM upd x) AS notified
FROM upd u
