-- Resumes queue $1 (PgQueueStore then wakes every daemon's dispatchers and
-- workers' polls with a NOTIFY on cueball_ready).
UPDATE cueball_queues SET paused_at = NULL, pause_reason = NULL, updated_at = now()
WHERE name = $1
