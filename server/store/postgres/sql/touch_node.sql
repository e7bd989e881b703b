-- Node $1's heartbeat.
UPDATE cueball_nodes SET last_seen_at = now(), stopped_at = NULL WHERE id = $1
