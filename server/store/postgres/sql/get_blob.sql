-- Blob $2 of run $1, with its bytes.
SELECT {{blob_info_columns}}, data FROM cueball_blobs WHERE run_id = $1::uuid AND name = $2
