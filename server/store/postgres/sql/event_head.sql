-- The highest position given out.
SELECT position FROM cueball_event_head WHERE id = 1
