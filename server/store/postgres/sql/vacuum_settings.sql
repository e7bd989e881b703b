-- Before vacuum_runs.sql: the statement timeout is for requests, not for a
-- vacuum of a large table; a vacuum that cannot have the table's lock at once
-- (another one holds it) is skipped.
SET statement_timeout = 0; SET lock_timeout = '10ms'
