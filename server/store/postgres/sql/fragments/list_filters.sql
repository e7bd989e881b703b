-- The filters List and the bulk actions apply ($1 type, $2 queue, $3/$4
-- created after/before in us, $5 the last id of the previous page, $7
-- idempotency key; tags: $8/$9 the first tag's key and value, $6 the others
-- as a JSON object, NULL when none). A run's tags are rows of
-- cueball_run_tags (migration 0014): the first tag is a semi-join the
-- planner can drive from that table's index, newest first; the others are
-- probed per run.
AND ($1::text IS NULL OR workflow_type = $1)
AND ($2::text IS NULL OR queue = $2)
AND ($3::bigint IS NULL OR created_at > (timestamptz 'epoch' + $3 * interval '1 microsecond'))
AND ($4::bigint IS NULL OR created_at < (timestamptz 'epoch' + $4 * interval '1 microsecond'))
AND ($5::uuid IS NULL OR r.id < $5::uuid)
AND ($8::text IS NULL
     OR r.id IN (SELECT t.run_id FROM cueball_run_tags t WHERE t.key = $8 AND t.value = $9::text))
AND ($6::jsonb IS NULL OR NOT EXISTS (
      SELECT 1 FROM jsonb_each_text($6::jsonb) f
      WHERE NOT EXISTS (SELECT 1 FROM cueball_run_tags t
                        WHERE t.key = f.key AND t.value = f.value AND t.run_id = r.id)))
AND ($7::text IS NULL OR r.idempotency_key = $7)
