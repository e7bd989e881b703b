-- Running runs of types $1 whose lease expired, oldest first ($2 at most),
-- for the rescuer.
SELECT {{run_columns}}, {{lease_columns}}
FROM cueball_runs
WHERE status = 'running' AND lease_expires_at < now() AND workflow_type = ANY($1::text[])
ORDER BY lease_expires_at LIMIT $2
