-- Worker $1 (identity $2, through daemon $3, queues $4, served types $5,
-- slots $6, lease $7 ms) registers, or registers again. Workers not heard
-- from for a day are forgotten on the way.
WITH gone AS (
  DELETE FROM cueball_workers
  WHERE last_heartbeat_at < now() - interval '1 day' AND id <> $1
)
INSERT INTO cueball_workers (id, identity, node, queues, types, slots, lease_ms)
VALUES ($1, $2, $3, $4::text[], $5::text[], $6, $7)
ON CONFLICT (id) DO UPDATE
SET identity = $2, node = $3, queues = $4::text[], types = $5::text[], slots = $6,
    lease_ms = $7, in_flight = 0, registered_at = now(), last_heartbeat_at = now(),
    stopped_at = NULL
