-- Worker $1 stops.
UPDATE cueball_workers SET stopped_at = now(), in_flight = 0 WHERE id = $1
