-- Pauses ($2 true: paused_at kept if already paused) or resumes schedule $1;
-- $3 (us, or NULL to keep it) is its next tick.
UPDATE cueball_schedules
SET paused_at = CASE WHEN $2 THEN coalesce(paused_at, now()) END,
    next_at = coalesce(timestamptz 'epoch' + $3::bigint * interval '1 microsecond', next_at),
    updated_at = now()
WHERE name = $1
RETURNING {{schedule_columns}}
