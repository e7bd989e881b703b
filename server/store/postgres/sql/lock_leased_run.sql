-- Locks run $1 if it is running under lease $2: its step, attempt, and
-- whether the attempt's step_started is still unwritten (migration 0010).
-- No row: the lease is no longer this attempt's.
SELECT step_name, attempt, start_logged_lease IS DISTINCT FROM lease_id AS start_unwritten
FROM cueball_runs
WHERE id = $1::uuid AND status = 'running' AND lease_id = $2::uuid
FOR UPDATE
