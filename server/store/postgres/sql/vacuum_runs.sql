-- Outside any transaction. One process, not parallel workers for the
-- indexes: the vacuum runs while runs trickle in, and must leave the other
-- cores to them.
VACUUM (PARALLEL 0) cueball_runs
