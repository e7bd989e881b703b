-- After the runs $1 (an array) are canceled with reason $2: their unfinished
-- descendants (children, their children, ...), each with its own
-- run_canceled event naming the canceled run it descends from (and the
-- step_started of an attempt it ends, as in cancel_run.sql).
WITH RECURSIVE tree AS (
  SELECT id, parent_id AS root FROM cueball_runs WHERE parent_id = ANY($1::uuid[])
  UNION
  SELECT c.id, t.root FROM cueball_runs c JOIN tree t ON c.parent_id = t.id
), before AS (
  -- A run below two of the canceled runs appears once per root; the update
  -- takes one of them.
  SELECT r.id, t.root,
         CASE WHEN r.status = 'running' AND r.start_logged_lease IS DISTINCT FROM r.lease_id
              THEN r.updated_at END AS start_at, r.lease_owner AS start_by
  FROM cueball_runs r JOIN tree t ON r.id = t.id
  WHERE r.status IN ('enqueued', 'running', 'waiting')
  FOR UPDATE OF r
), upd AS (
  UPDATE cueball_runs r
  SET status = 'canceled', error = 'parent run ' || b.root::text || ' was canceled: ' || $2,
      lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, wait = NULL,
      finished_at = now(), updated_at = now()
  FROM before b
  WHERE r.id = b.id
  RETURNING r.id, r.step_name, r.attempt, r.error, b.root, b.start_at, b.start_by
), ev_rows AS (
  SELECT id AS run_id, 'run_canceled' AS kind, step_name AS step, attempt,
         jsonb_build_object('reason', error, 'canceled_with', root::text) AS data,
         NULL::text AS also, start_at AS started_at,
         CASE WHEN start_at IS NOT NULL THEN start_by END AS started_by,
         NULL::timestamptz AS created_at,
         sum(1 + (start_at IS NOT NULL)::int) OVER (ORDER BY id)
           - (start_at IS NOT NULL)::int AS n
  FROM upd
), {{events}}, waits AS (
  DELETE FROM cueball_run_waits w USING upd WHERE w.waiter_id = upd.id
)
SELECT id::text AS id FROM upd
