-- The stored definitions of types $1 (an empty array: all of them).
SELECT name, source, definition::text AS definition
FROM cueball_workflow_types
WHERE cardinality($1::text[]) = 0 OR name = ANY($1::text[])
ORDER BY name
