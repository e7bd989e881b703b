-- Prepared on every connection of the dispatch pool: writes a batch of
-- outcomes and their events in one statement. record_runs.sql is the same
-- and also returns whole runs.
WITH {{record_outcomes}}, upd AS (
{{record_update}}
), {{record_event_rows}}, {{events}}
SELECT {{record_select}}
FROM upd
