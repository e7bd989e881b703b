-- A wakeup on channel $1 with payload $2, delivered when the transaction commits.
SELECT pg_notify($1, $2)
