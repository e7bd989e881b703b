-- Unfinished runs by workflow type and queue.
SELECT workflow_type, queue, count(*) AS n FROM cueball_runs
WHERE status IN ('enqueued', 'running', 'waiting')
GROUP BY workflow_type, queue ORDER BY workflow_type, queue
