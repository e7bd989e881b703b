-- Prepared on every connection of the event store's pool: the head, and
-- whether any batch waits for positions (a cheap check on the partial
-- index, so idle sequencers on many daemons do not queue up on the head
-- row's lock).
SELECT (SELECT position FROM cueball_event_head WHERE id = 1) AS head,
       EXISTS (SELECT 1 FROM cueball_event_batches WHERE position IS NULL) AS pending
