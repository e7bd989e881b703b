-- record.sql, also returning the whole runs of the outcomes whose ords are
-- in $21 (Outcome::return_run), as run columns after the record's own,
-- NULLs for the others. A statement of its own, prepared beside the plain
-- one: its join costs every outcome (about 2% of PostgreSQL's instructions
-- per drained run), and runs are asked for only while Wait calls are
-- pending on this daemon.
WITH {{record_outcomes}}, upd AS (
{{record_update}},
            CASE WHEN o.ord = ANY($21::int[]) THEN r END AS run_row
), {{record_event_rows}}, {{events}}
SELECT {{record_select}},
       f.*
FROM upd LEFT JOIN LATERAL (SELECT {{run_columns}} FROM (SELECT (upd.run_row).*) x) f
  ON (upd.run_row).id IS NOT NULL
