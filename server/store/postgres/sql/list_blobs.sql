-- The blobs of run $1 (without their bytes), by name.
SELECT {{blob_info_columns}} FROM cueball_blobs WHERE run_id = $1::uuid ORDER BY name
