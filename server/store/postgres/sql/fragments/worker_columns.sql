-- A remote worker's row, with whether it is alive (PgWorkerStore).
id, identity, node, array_to_json(queues)::text AS queues, array_to_json(types)::text AS types,
slots, lease_ms, in_flight,
round(date_part('epoch', registered_at) * 1000000)::bigint AS registered_us,
round(date_part('epoch', last_heartbeat_at) * 1000000)::bigint AS heartbeat_us,
round(date_part('epoch', stopped_at) * 1000000)::bigint AS stopped_us,
(stopped_at IS NULL AND last_heartbeat_at > now() - lease_ms * interval '1 millisecond') AS alive
