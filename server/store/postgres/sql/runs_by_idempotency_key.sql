-- The runs holding idempotency keys $1 (an enqueue's skipped rows).
SELECT {{run_columns}} FROM cueball_runs WHERE idempotency_key = ANY($1::text[])
