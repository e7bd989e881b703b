-- Binds the oldest signal $2 of run $1 not yet bound to a step to step $3.
UPDATE cueball_signals SET step_index = $3, bound_at = now()
WHERE seq = (SELECT seq FROM cueball_signals
             WHERE run_id = $1::uuid AND name = $2 AND step_index IS NULL
             ORDER BY seq LIMIT 1)
RETURNING {{signal_columns}}
