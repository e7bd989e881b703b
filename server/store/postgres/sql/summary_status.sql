-- The status of run $1 removed by retention (no row: no such run).
SELECT status FROM cueball_run_summaries WHERE id = $1::uuid
