-- One migrator at a time, across every daemon: a session lock ($1 is
-- kMigrationLockKey), released with the connection.
SELECT pg_advisory_lock($1)
