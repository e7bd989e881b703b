-- Stores the definition $3 (JSON) of type $1 from source $2, or replaces
-- the stored one.
INSERT INTO cueball_workflow_types (name, source, definition)
VALUES ($1, $2, $3::jsonb)
ON CONFLICT (name) DO UPDATE
SET source = $2, definition = $3::jsonb, updated_at = now()
WHERE cueball_workflow_types.source IS DISTINCT FROM $2
   OR cueball_workflow_types.definition IS DISTINCT FROM $3::jsonb
