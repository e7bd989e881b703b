-- Whether run $1 exists, or existed (retention keeps its summary).
SELECT EXISTS (SELECT 1 FROM cueball_runs WHERE id = $1::uuid)
       OR EXISTS (SELECT 1 FROM cueball_run_summaries WHERE id = $1::uuid) AS found
