-- How many of the runs $1 have finished (a run removed by retention has
-- finished; an id that names no run counts as finished, so a wait can never
-- hang on it), and how many there are.
SELECT count(*) FILTER (WHERE r.finished_at IS NOT NULL OR r.id IS NULL) AS finished,
       count(*) AS total
FROM unnest($1::uuid[]) AS t(id)
LEFT JOIN cueball_runs r ON r.id = t.id
