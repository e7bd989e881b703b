-- Runs of any status passing the filters, newest first ($10 at most): the
-- primary key read backwards. Ordered by the uuid, not by the text selected.
SELECT {{run_columns}} FROM cueball_runs r
WHERE TRUE
{{list_filters}}
ORDER BY r.id DESC LIMIT $10
