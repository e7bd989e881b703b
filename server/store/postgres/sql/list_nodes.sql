-- Nodes seen in the last $1 ms, newest first.
SELECT id, host, pid, version, listen, array_to_json(queues)::text AS queues, workers,
       round(date_part('epoch', started_at) * 1000000)::bigint AS started_us,
       round(date_part('epoch', last_seen_at) * 1000000)::bigint AS last_seen_us,
       round(date_part('epoch', stopped_at) * 1000000)::bigint AS stopped_us,
       (extract(epoch FROM now() - last_seen_at) * 1000)::bigint AS since_seen_ms,
       array_to_json(types)::text AS types
FROM cueball_nodes
WHERE last_seen_at > now() - $1 * interval '1 millisecond'
ORDER BY started_at DESC, id
