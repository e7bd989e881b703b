-- The signal $2 of run $1 already bound to step $3, if any.
SELECT {{signal_columns}}
FROM cueball_signals WHERE run_id = $1::uuid AND name = $2 AND step_index = $3
ORDER BY seq LIMIT 1
