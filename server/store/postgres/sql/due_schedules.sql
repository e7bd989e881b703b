-- Schedules not paused whose next tick is due by the database clock, most
-- overdue first, at most $1 (the partial index cueball_schedules_due).
SELECT {{schedule_columns}} FROM cueball_schedules
WHERE paused_at IS NULL AND next_at <= now()
ORDER BY next_at LIMIT $1
