-- The signal of run $1 that used idempotency key $2.
SELECT seq, name FROM cueball_signals WHERE run_id = $1::uuid AND idempotency_key = $2
