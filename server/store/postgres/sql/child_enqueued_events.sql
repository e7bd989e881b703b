-- A child run is also recorded in its parent's history: one child_enqueued
-- event in each parent of the new runs $1.
WITH ev_rows AS (
  SELECT p.id AS run_id, 'child_enqueued' AS kind, p.step_name AS step, p.attempt,
         jsonb_build_object('child_id', c.id, 'workflow_type', c.workflow_type) AS data,
         NULL::text AS also, NULL::timestamptz AS started_at, NULL::text AS started_by,
         NULL::timestamptz AS created_at, row_number() OVER (ORDER BY c.id) AS n
  FROM cueball_runs c JOIN cueball_runs p ON p.id = c.parent_id
  WHERE c.id = ANY($1::uuid[])
), {{events}}
SELECT 1
