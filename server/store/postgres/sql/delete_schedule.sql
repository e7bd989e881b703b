-- Deletes schedule $1 (runs it enqueued stay).
DELETE FROM cueball_schedules WHERE name = $1
