-- Heartbeat: extends by $3 ms the leases of the attempts ($1 run ids, $2
-- their lease ids) and returns the run ids whose lease is lost. By the
-- primary key: a lease id is shared by the runs one claim took.
WITH want AS (
  SELECT unnest($1::uuid[]) AS id, unnest($2::uuid[]) AS lease_id
), ext AS (
  UPDATE cueball_runs r SET lease_expires_at = now() + $3 * interval '1 millisecond'
  FROM want
  WHERE r.id = want.id AND r.lease_id = want.lease_id AND r.status = 'running'
  RETURNING r.id
)
SELECT want.id::text AS id FROM want LEFT JOIN ext USING (id) WHERE ext.id IS NULL
