-- Prepared on every connection of the run store's pool. The runs come as
-- one typed array per column (PgArrayWriter); runs whose idempotency key
-- exists already are skipped (PgRunStore::Enqueue reads those).
WITH input AS (
  -- Unnested in the select list, streamed (see record.sql).
  SELECT unnest($1::int[]) AS ord, unnest($2::uuid[]) AS id, unnest($3::text[]) AS workflow_type,
         unnest($4::text[]) AS step_name, unnest($5::text[]) AS queue,
         unnest($6::int[]) AS priority, unnest($7::text[]) AS input,
         unnest($8::text[]) AS idempotency_key, unnest($9::bigint[]) AS run_at_us,
         unnest($10::uuid[]) AS parent_id, unnest($11::text[]) AS tags,
         unnest($12::bigint[]) AS deadline_us, unnest($13::text[]) AS deadline_action
), ins AS (
  INSERT INTO cueball_runs (id, workflow_type, step_name, queue, priority, input,
                            idempotency_key, run_at, parent_id, tags, deadline_at,
                            deadline_action)
  SELECT id, workflow_type, step_name, queue, priority, input::jsonb, idempotency_key,
         CASE WHEN run_at_us IS NULL THEN now()
              ELSE timestamptz 'epoch' + run_at_us * interval '1 microsecond' END, parent_id,
         tags::jsonb, timestamptz 'epoch' + deadline_us * interval '1 microsecond', deadline_action
  FROM input ORDER BY ord
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING *
), tag_rows AS (
  -- A tagged run's tags, written once (migration 0014).
  INSERT INTO cueball_run_tags (key, value, run_id)
  SELECT t.key, t.value, ins.id FROM ins, jsonb_each_text(ins.tags) t WHERE ins.tags IS NOT NULL
), ev_rows AS (
  SELECT id AS run_id, 'enqueued' AS kind, step_name AS step, 0 AS attempt,
         jsonb_strip_nulls(jsonb_build_object('queue', queue, 'priority', priority,
                                              'run_at', run_at, 'parent_id', parent_id)) AS data,
         NULL::text AS also, NULL::timestamptz AS started_at, NULL::text AS started_by,
         NULL::timestamptz AS created_at, row_number() OVER (ORDER BY id) AS n
  FROM ins
), {{events}}
SELECT {{run_columns}},
       -- Announces the queues with new runs (delivered at commit).
       (SELECT count(pg_notify('cueball_ready', q)) FROM (SELECT DISTINCT queue FROM ins) AS d(q))
         AS notified
FROM ins
