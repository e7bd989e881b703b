-- Moves subscription $1 up to position $2 (never back), if $2 is not beyond
-- the head. No row: no such subscription, or $2 is beyond the head.
WITH upd AS (
  UPDATE cueball_subscriptions s
  SET position = greatest(s.position, $2), acked_at = now()
  FROM cueball_event_head h
  WHERE s.name = $1 AND h.id = 1 AND $2 <= h.position
  RETURNING s.*
)
SELECT {{subscription_columns}} FROM upd
