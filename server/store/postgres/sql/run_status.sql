-- Why a conditional change matched nothing: the run's status (no row: no run).
SELECT status FROM cueball_runs WHERE id = $1::uuid
