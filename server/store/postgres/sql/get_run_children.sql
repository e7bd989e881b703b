SELECT id::text AS id, workflow_type, status FROM cueball_runs
WHERE parent_id = $1::uuid ORDER BY id
