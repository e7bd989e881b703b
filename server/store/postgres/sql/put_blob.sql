-- Blob $2 of run $1 (content type $3, bytes $4), replacing one of that name.
INSERT INTO cueball_blobs (run_id, name, content_type, data, size, sha256)
VALUES ($1::uuid, $2, $3, $4::bytea, length($4::bytea), encode(sha256($4::bytea), 'hex'))
ON CONFLICT (run_id, name) DO UPDATE
SET content_type = excluded.content_type, data = excluded.data, size = excluded.size,
    sha256 = excluded.sha256, updated_at = now()
RETURNING {{blob_info_columns}}
