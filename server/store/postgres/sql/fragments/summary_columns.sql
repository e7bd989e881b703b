-- A pruned run's summary (cueball_run_summaries) as run columns: no
-- payloads, its finish time standing for its last update and run time.
id::text AS id, workflow_type, queue, status, step_index, step_name, attempt,
'{}' AS input, '{}' AS state,
round(date_part('epoch', created_at) * 1000000)::bigint AS created_us,
round(date_part('epoch', finished_at) * 1000000)::bigint AS updated_us,
round(date_part('epoch', finished_at) * 1000000)::bigint AS run_us,
round(date_part('epoch', started_at) * 1000000)::bigint AS started_us,
round(date_part('epoch', finished_at) * 1000000)::bigint AS finished_us
