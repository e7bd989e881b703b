-- Run $1 waits for runs $2.
INSERT INTO cueball_run_waits (waiter_id, target_id)
SELECT $1::uuid, t FROM unnest($2::uuid[]) AS t
ON CONFLICT DO NOTHING
