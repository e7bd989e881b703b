-- Pauses queue $1 with reason $2 (a paused queue keeps when it was paused).
INSERT INTO cueball_queues (name, paused_at, pause_reason, updated_at)
VALUES ($1, now(), $2, now())
ON CONFLICT (name) DO UPDATE
SET paused_at = coalesce(cueball_queues.paused_at, now()), pause_reason = $2, updated_at = now()
