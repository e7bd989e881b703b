-- Sends waiting run $1 back to the queue: its signal came.
UPDATE cueball_runs
SET status = 'enqueued', run_at = now(), updated_at = now(),
    wait = wait || jsonb_build_object('woke', 'signal')
WHERE id = $1::uuid
