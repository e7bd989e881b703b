-- Fires a tick of schedule $1 if its next tick is still $2 (us) and it is
-- not paused: next tick $3, this tick $4 (both us), the run it enqueued $5
-- (NULL: none). The compare-and-set on next_at is what makes one daemon
-- fire each tick: a second one finds next_at moved and changes nothing.
UPDATE cueball_schedules
SET next_at = timestamptz 'epoch' + $3 * interval '1 microsecond',
    last_tick_at = timestamptz 'epoch' + $4 * interval '1 microsecond',
    last_run_id = coalesce($5::uuid, last_run_id), updated_at = now()
WHERE name = $1 AND paused_at IS NULL
  AND next_at = timestamptz 'epoch' + $2 * interval '1 microsecond'
RETURNING name
