-- The filters List and the bulk actions apply ($1 type, $2 queue, $3/$4
-- created after/before in us, $5 the last id of the previous page, $6 tags
-- as a JSON object the run's must contain, $7 idempotency key).
AND ($1::text IS NULL OR workflow_type = $1)
AND ($2::text IS NULL OR queue = $2)
AND ($3::bigint IS NULL OR created_at > (timestamptz 'epoch' + $3 * interval '1 microsecond'))
AND ($4::bigint IS NULL OR created_at < (timestamptz 'epoch' + $4 * interval '1 microsecond'))
AND ($5::uuid IS NULL OR r.id < $5::uuid)
AND ($6::jsonb IS NULL OR r.tags @> $6::jsonb)
AND ($7::text IS NULL OR r.idempotency_key = $7)
