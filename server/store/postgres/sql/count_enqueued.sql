-- Served by the partial index of enqueued runs.
SELECT count(*) AS n FROM cueball_runs WHERE status = 'enqueued'
