-- How many runs have a status among $10 and pass the filters
-- (fragments/list_filters.sql: $1..$9, with $5 NULL): a bulk action's dry run.
SELECT count(*) AS n FROM cueball_runs r
WHERE r.status = ANY($10::text[])
{{list_filters}}
