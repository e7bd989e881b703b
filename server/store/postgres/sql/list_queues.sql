-- Every known queue, or only queue $2 (NULL: all), by name: a row of its
-- own, live daemons (seen within $1 ms) or workers serving it, or runs on
-- it that have not finished; with its depth, running and waiting runs
-- (each counted by the partial index of its status) and paused state.
WITH live_nodes AS (
  SELECT q AS name, count(*) AS n FROM cueball_nodes, unnest(queues) AS q
  WHERE stopped_at IS NULL AND last_seen_at > now() - $1 * interval '1 millisecond'
  GROUP BY q
), live_workers AS (
  SELECT q AS name, count(*) AS n FROM cueball_workers, unnest(queues) AS q
  WHERE stopped_at IS NULL AND last_heartbeat_at > now() - lease_ms * interval '1 millisecond'
  GROUP BY q
), enq AS (
  SELECT queue AS name, count(*) FILTER (WHERE run_at <= now()) AS ready,
         count(*) FILTER (WHERE run_at > now()) AS scheduled,
         coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)
           AS oldest_ready_s
  FROM cueball_runs WHERE status = 'enqueued' GROUP BY queue
), run AS (
  SELECT queue AS name, count(*) AS n FROM cueball_runs WHERE status = 'running' GROUP BY queue
), wai AS (
  SELECT queue AS name, count(*) AS n FROM cueball_runs WHERE status = 'waiting' GROUP BY queue
), names AS (
  SELECT name FROM cueball_queues
  UNION SELECT name FROM live_nodes
  UNION SELECT name FROM live_workers
  UNION SELECT name FROM enq
  UNION SELECT name FROM run
  UNION SELECT name FROM wai
)
SELECT n.name, q.paused_at IS NOT NULL AS paused, coalesce(q.pause_reason, '') AS pause_reason,
       round(date_part('epoch', q.paused_at) * 1000000)::bigint AS paused_us,
       coalesce(e.ready, 0) AS ready, coalesce(e.scheduled, 0) AS scheduled,
       coalesce(e.oldest_ready_s, 0)::float8 AS oldest_ready_s,
       coalesce(r.n, 0) AS running, coalesce(w.n, 0) AS waiting,
       coalesce(ln.n, 0) AS nodes, coalesce(lw.n, 0) AS workers
FROM names n
LEFT JOIN cueball_queues q ON q.name = n.name
LEFT JOIN enq e ON e.name = n.name
LEFT JOIN run r ON r.name = n.name
LEFT JOIN wai w ON w.name = n.name
LEFT JOIN live_nodes ln ON ln.name = n.name
LEFT JOIN live_workers lw ON lw.name = n.name
WHERE $2::text IS NULL OR n.name = $2
ORDER BY n.name
