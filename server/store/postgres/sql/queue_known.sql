-- Whether queue $1 is known (as in list_queues.sql; daemons seen within $2
-- ms), each test served by an index.
SELECT EXISTS (SELECT 1 FROM cueball_queues WHERE name = $1)
    OR EXISTS (SELECT 1 FROM cueball_nodes
               WHERE $1 = ANY(queues) AND stopped_at IS NULL
                 AND last_seen_at > now() - $2 * interval '1 millisecond')
    OR EXISTS (SELECT 1 FROM cueball_workers
               WHERE $1 = ANY(queues) AND stopped_at IS NULL
                 AND last_heartbeat_at > now() - lease_ms * interval '1 millisecond')
    OR EXISTS (SELECT 1 FROM cueball_runs WHERE status = 'enqueued' AND queue = $1)
    OR EXISTS (SELECT 1 FROM cueball_runs WHERE status = 'running' AND queue = $1)
    OR EXISTS (SELECT 1 FROM cueball_runs WHERE status = 'waiting' AND queue = $1)
  AS known
