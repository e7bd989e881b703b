-- One event on its own, as a batch of one: run $1, kind $2, step $3,
-- attempt $4, data $5. With $6 (us) and $7 (owner), the row also stands for
-- the attempt's step_started before the event (migration 0010).
WITH ev_rows AS (
  SELECT $1::uuid AS run_id, $2::text AS kind, $3::text AS step, $4::int AS attempt,
         $5::jsonb AS data, NULL::text AS also,
         timestamptz 'epoch' + $6::bigint * interval '1 microsecond' AS started_at,
         $7::text AS started_by, NULL::timestamptz AS created_at, 1::bigint AS n
), {{events}}
SELECT 1
