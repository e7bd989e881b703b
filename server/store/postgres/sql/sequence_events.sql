-- Prepared on every connection of the event store's pool. Numbers the
-- committed batches that wait for positions (migration 0006), in order of
-- last_seq, until at least $1 events are numbered or none are left, and
-- advances the head by as many events. Runs in the caller's transaction
-- right after lock_event_head.sql, so its snapshot sees every position given
-- by earlier sequencers and nobody else numbers concurrently. Returns the
-- head and the events numbered, and notifies the new head when it moved.
WITH pending AS (
  SELECT id, count, sum(count) OVER (ORDER BY last_seq) - count AS before
  FROM (SELECT id, count, last_seq FROM cueball_event_batches
        WHERE position IS NULL ORDER BY last_seq LIMIT $1) s
), upd AS (
  UPDATE cueball_event_batches b SET position = h.position + p.before
  FROM pending p, cueball_event_head h
  WHERE b.id = p.id AND h.id = 1 AND p.before < $1
  RETURNING b.count
)
UPDATE cueball_event_head
SET position = position + (SELECT coalesce(sum(count), 0) FROM upd)
WHERE id = 1
RETURNING position AS head, (SELECT coalesce(sum(count), 0) FROM upd) AS sequenced,
          -- Announces the new head to event streams (delivered at commit).
          CASE WHEN (SELECT coalesce(sum(count), 0) FROM upd) > 0
               THEN pg_notify('cueball_events', position::text) END AS notified
