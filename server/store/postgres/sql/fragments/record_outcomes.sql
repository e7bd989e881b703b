-- The outcomes of record.sql and record_runs.sql, one typed array per column
-- (PgArrayWriter); $20: for an outcome whose next step stays on this daemon
-- (Outcome::continue_lease), the new lease's length in ms, else NULL.
-- `paused`: the queues paused now (migration 0013), read once per
-- statement: a run on one of them does not go on to its next step here,
-- it waits enqueued for the queue to be resumed.
paused AS (
  SELECT coalesce(array_agg(name), '{}') AS names FROM cueball_queues WHERE paused_at IS NOT NULL
), o AS (
  -- The arrays side by side, unnested in the select list: a ProjectSet
  -- streams the rows, where unnest() in FROM copied them all into a
  -- tuplestore first.
  SELECT unnest($1::int[]) AS ord, unnest($2::uuid[]) AS run_id, unnest($3::uuid[]) AS lease_id,
         unnest($4::text[]) AS status, unnest($5::int[]) AS step_index,
         unnest($6::text[]) AS step_name, unnest($7::int[]) AS attempt,
         unnest($8::text[]) AS state, unnest($9::text[]) AS result, unnest($10::text[]) AS error,
         unnest($11::bigint[]) AS run_at_us, unnest($20::bigint[]) AS lease_ms
)
