-- Milliseconds until the next waiting run's deadline (NULL: none).
SELECT (extract(epoch FROM (min(run_at) - now())) * 1000)::bigint AS ms FROM cueball_runs
WHERE status = 'waiting' AND run_at < '9999-12-31 00:00:00+00'
