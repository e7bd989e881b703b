-- Run $1, locked, as a signal to it needs it.
SELECT status, step_index, step_name, attempt, wait::text AS wait, queue FROM cueball_runs
WHERE id = $1::uuid
FOR UPDATE
