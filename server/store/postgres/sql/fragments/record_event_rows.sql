-- The outcomes' events, as flat arrays ($12..$19) each with its outcome's
-- ord. An outcome's first event row also stands for the attempt's
-- step_started when the outcome brings it ($18 its time in us, $19 its
-- owner) and it was not written while the attempt ran (migration 0010); a
-- row with `also` is one event more (0009). n counts them all, so the next
-- row starts after.
ev_rows AS (
  SELECT run_id, kind, step, attempt, data, also, started_at, started_by,
         NULL::timestamptz AS created_at,
         sum(1 + (also IS NOT NULL)::int + (started_at IS NOT NULL)::int) OVER (ORDER BY k)
           - (also IS NOT NULL)::int - (started_at IS NOT NULL)::int AS n
  FROM (
    SELECT upd.id AS run_id, e.kind, e.step, e.attempt,
           coalesce(e.data::jsonb, '{}'::jsonb) AS data, e.also,
           CASE WHEN upd.start_unwritten
                THEN timestamptz 'epoch' + e.started_us * interval '1 microsecond' END AS started_at,
           CASE WHEN upd.start_unwritten THEN e.started_by END AS started_by, e.k
    FROM (SELECT unnest($12::int[]) AS ord, unnest($13::text[]) AS kind,
                 unnest($14::text[]) AS step, unnest($15::int[]) AS attempt,
                 unnest($16::text[]) AS data, unnest($17::text[]) AS also,
                 unnest($18::bigint[]) AS started_us, unnest($19::text[]) AS started_by,
                 generate_series(1, cardinality($12::int[])) AS k) e
    JOIN upd ON upd.ord = e.ord
  ) x
)
