-- Each queue's ready and scheduled runs and the age of its oldest ready one
-- in seconds. Served by the partial index of enqueued runs.
SELECT queue, count(*) FILTER (WHERE run_at <= now()) AS ready,
       count(*) FILTER (WHERE run_at > now()) AS scheduled,
       coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)
         AS oldest_ready_s
FROM cueball_runs WHERE status = 'enqueued' GROUP BY queue ORDER BY queue
