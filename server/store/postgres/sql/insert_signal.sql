-- Signal $2 with payload $3 for run $1; no row when its idempotency key $4
-- was used already.
INSERT INTO cueball_signals (run_id, name, payload, idempotency_key)
VALUES ($1::uuid, $2, $3::jsonb, $4)
ON CONFLICT ON CONSTRAINT cueball_signals_key DO NOTHING
RETURNING seq
