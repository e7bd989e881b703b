-- The stored definitions of types $1, locked until the registration that
-- reads them commits (it writes what it compared against them).
SELECT name, definition::text AS definition
FROM cueball_workflow_types
WHERE name = ANY($1::text[])
ORDER BY name
FOR UPDATE
