-- Live workers (not stopped, heartbeating within their lease) other than
-- $2 that serve type $1, whole or any of its steps.
SELECT count(*) AS workers
FROM cueball_workers
WHERE stopped_at IS NULL AND id <> $2
  AND last_heartbeat_at > now() - lease_ms * interval '1 millisecond'
  AND EXISTS (SELECT 1 FROM unnest(types) t WHERE t = $1 OR starts_with(t, $1 || '/'))
