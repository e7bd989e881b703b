-- Head, horizon and one page of events after position $1 (filters: $2 run,
-- $3 type, $4 kinds; $5 at most) in one statement (one snapshot): the head
-- and the positions below it commit together, so every event up to the head
-- is visible here. No events: one row with NULL event columns.
-- The page starts in the batch that holds position $1 + 1 (the last batch
-- at or below $1), and walks batches and their events in position order.
-- A row may stand for up to three events: the attempt's step_started when
-- `started_at` is set (migration 0010), its own, and one of kind `also`
-- (0009). They are expanded here (p.i 0, 1, 2; k is 1 when the row has a
-- start) as the view cueball_event_log does; not through the view, whose
-- position is computed and so cannot bound the (batch_id, ord) index scan.
-- A row that starts at $1 may have events after it, so rows are read from
-- ord $1 - position and the events filtered to those after $1.
SELECT h.position AS head, h.pruned_through, x.position, x.seq, x.run_id::text AS run_id,
       x.workflow_type, x.kind, coalesce(x.step, '') AS step, coalesce(x.attempt, 0) AS attempt,
       x.data::text AS data, round(date_part('epoch', x.created_at) * 1000000)::bigint AS created_us
FROM cueball_event_head h
LEFT JOIN LATERAL (
  SELECT b.position + e.ord + p.i AS position, e.seq + p.i AS seq, e.run_id, r.workflow_type,
         ek.kind, e.step, e.attempt,
         CASE WHEN p.i < s.k THEN jsonb_build_object('owner', e.started_by) ELSE e.data END
           AS data,
         CASE WHEN p.i < s.k THEN e.started_at ELSE e.created_at END AS created_at
  FROM cueball_event_batches b
  JOIN cueball_events e
    ON e.batch_id = b.id AND e.ord >= $1 - b.position - 1 AND e.ord <= h.position - b.position
  CROSS JOIN LATERAL (SELECT CASE WHEN e.started_at IS NULL THEN 0 ELSE 1 END AS k) s
  CROSS JOIN LATERAL generate_series(0, s.k + CASE WHEN e.also IS NULL THEN 0 ELSE 1 END) AS p(i)
  CROSS JOIN LATERAL (
    SELECT CASE WHEN p.i < s.k THEN 'step_started' WHEN p.i = s.k THEN e.kind ELSE e.also END
  ) AS ek(kind)
  JOIN cueball_runs r ON r.id = e.run_id
  WHERE b.position >= coalesce((SELECT max(position) FROM cueball_event_batches
                                WHERE position <= $1), 0)
    AND b.position < h.position
    AND e.ord + p.i > $1 - b.position
    AND ($2::uuid IS NULL OR e.run_id = $2::uuid)
    AND ($3::text IS NULL OR r.workflow_type = $3)
    AND ($4::text[] IS NULL OR ek.kind = ANY($4::text[]))
  ORDER BY b.position, e.ord, p.i
  LIMIT $5
) x ON true
WHERE h.id = 1
ORDER BY x.position
