-- Inserts schedule $1 (cron $2 in time zone $3; type $4, input $5, queue $6,
-- priority $7, tags $8, catch_up $9, first tick $10 in us); no row when the
-- name is taken.
INSERT INTO cueball_schedules (name, cron, timezone, workflow_type, input, queue, priority, tags,
                               catch_up, next_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb, $9,
        timestamptz 'epoch' + $10 * interval '1 microsecond')
ON CONFLICT (name) DO NOTHING
RETURNING {{schedule_columns}}
