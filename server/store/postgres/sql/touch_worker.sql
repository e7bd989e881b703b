-- Worker $1 heartbeats, holding $2 attempts.
UPDATE cueball_workers SET last_heartbeat_at = now(), in_flight = $2
WHERE id = $1 AND stopped_at IS NULL
