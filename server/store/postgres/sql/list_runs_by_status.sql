-- Runs of a type or of some statuses, newest first ($10 at most): a branch
-- per status ($11..$16: enqueued, running, waiting, succeeded, failed,
-- canceled wanted). The list indexes leave out enqueued and running runs
-- (migration 0008): the ready or lease index (or the primary key newest
-- first) finds those; the type and status indexes find the others. One
-- status per branch, as a constant: the planner proves a partial index's
-- predicate from it, and the index (workflow_type, status, id) gives each
-- branch newest first, where `status = ANY(...)` could not be an ordered
-- index scan (before PostgreSQL 17). The statement is planned for its
-- values each time (not prepared), so a branch that is not wanted is folded
-- away. Each branch is limited and newest first; the union is merged newest
-- first.
SELECT * FROM (
  (SELECT {{run_columns}} FROM cueball_runs r
   WHERE $11::boolean AND r.status = 'enqueued'
   {{list_filters}}
   ORDER BY r.id DESC LIMIT $10)
  UNION ALL
  (SELECT {{run_columns}} FROM cueball_runs r
   WHERE $12::boolean AND r.status = 'running'
   {{list_filters}}
   ORDER BY r.id DESC LIMIT $10)
  UNION ALL
  (SELECT {{run_columns}} FROM cueball_runs r
   WHERE $13::boolean AND r.status = 'waiting'
   {{list_filters}}
   ORDER BY r.id DESC LIMIT $10)
  UNION ALL
  (SELECT {{run_columns}} FROM cueball_runs r
   WHERE $14::boolean AND r.status = 'succeeded'
   {{list_filters}}
   ORDER BY r.id DESC LIMIT $10)
  UNION ALL
  (SELECT {{run_columns}} FROM cueball_runs r
   WHERE $15::boolean AND r.status = 'failed'
   {{list_filters}}
   ORDER BY r.id DESC LIMIT $10)
  UNION ALL
  (SELECT {{run_columns}} FROM cueball_runs r
   WHERE $16::boolean AND r.status = 'canceled'
   {{list_filters}}
   ORDER BY r.id DESC LIMIT $10)
) l ORDER BY l.id::uuid DESC LIMIT $10
