-- Before sequence_events.sql, in its transaction. Custom plans for the
-- sequence statement (one round trip with the lock): a plan PostgreSQL
-- caches after five runs was made while the batches table was a page or two,
-- and it hashed a sequential scan of the whole table on every pass once the
-- table had grown (5 ms per pass after a burst, seen with auto_explain),
-- until the next analyze.
SET LOCAL plan_cache_mode = force_custom_plan;
SELECT position FROM cueball_event_head WHERE id = 1 FOR UPDATE
