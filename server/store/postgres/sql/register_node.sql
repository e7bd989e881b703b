-- Node $1 (host $2, pid $3, version $4, gRPC address $5, queues $6, worker
-- slots $7, workflow types $8) starts, or starts again.
INSERT INTO cueball_nodes (id, host, pid, version, listen, queues, workers, types)
VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8::text[])
ON CONFLICT (id) DO UPDATE
SET host = $2, pid = $3, version = $4, listen = $5, queues = $6::text[], workers = $7,
    types = $8::text[], started_at = now(), last_seen_at = now(), stopped_at = NULL
