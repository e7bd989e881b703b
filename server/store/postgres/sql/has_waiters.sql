-- Prepared on every connection of the run store's pool: whether any run
-- waits for one of the runs $1. The waker asks it after every burst of
-- finished runs (pg_waits.cc).
SELECT EXISTS (SELECT 1 FROM cueball_run_waits WHERE target_id = ANY($1::text[]::uuid[])) AS any
