-- The step_started of attempts still running ($1 run ids, $2 lease ids),
-- each written once: the run row keeps the lease whose start is written
-- (migration 0010), and its claim time (updated_at) and owner are the event's.
WITH a AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS x(run_id, lease_id)
), upd AS (
  UPDATE cueball_runs r SET start_logged_lease = r.lease_id
  FROM a
  WHERE r.id = a.run_id AND r.lease_id = a.lease_id
    AND r.start_logged_lease IS DISTINCT FROM r.lease_id
  RETURNING r.id, r.step_name, r.attempt, r.updated_at, r.lease_owner
), ev_rows AS (
  SELECT id AS run_id, 'step_started' AS kind, step_name AS step, attempt,
         jsonb_build_object('owner', lease_owner) AS data, NULL::text AS also,
         NULL::timestamptz AS started_at, NULL::text AS started_by, updated_at AS created_at,
         row_number() OVER (ORDER BY id) AS n
  FROM upd
), {{events}}
SELECT count(*) AS written FROM upd
