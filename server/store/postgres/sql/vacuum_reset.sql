-- After vacuum_runs.sql: the connection goes back to the pool as it came.
RESET statement_timeout; RESET lock_timeout
