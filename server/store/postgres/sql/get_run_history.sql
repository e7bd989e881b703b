-- One row per event: the view expands rows that are two or three events
-- (migrations 0009, 0010).
SELECT seq, kind, coalesce(step, '') AS step, coalesce(attempt, 0) AS attempt, data::text AS data,
       round(date_part('epoch', created_at) * 1000000)::bigint AS created_us,
       coalesce(position, 0) AS position
FROM cueball_event_log WHERE run_id = $1::uuid ORDER BY seq
