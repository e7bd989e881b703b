-- Workers heard from in the last $1 ms, newest first.
SELECT {{worker_columns}}
FROM cueball_workers
WHERE last_heartbeat_at > now() - $1 * interval '1 millisecond'
ORDER BY registered_at DESC, id
