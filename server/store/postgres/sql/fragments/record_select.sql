-- What the record returns of each outcome written (PgRunStore::RecordOutcomes).
upd.ord AS rec_ord, upd.id::text AS rec_id, upd.status AS rec_status, upd.queue AS rec_queue,
-- The statement announces its own changes (delivered at commit): a
-- finished run to waiters, a queue with a next step to dispatchers (not
-- one whose next step stays here).
CASE WHEN upd.status IN ('succeeded', 'failed', 'canceled')
     THEN pg_notify('cueball_finished', upd.id::text) END AS rec_notified,
(SELECT count(pg_notify('cueball_ready', q))
 FROM (SELECT DISTINCT queue FROM upd
       WHERE status NOT IN ('succeeded', 'failed', 'canceled', 'running')) AS d(q))
  AS rec_ready_notified,
next_lease::text AS rec_next_lease,
CASE WHEN next_lease IS NOT NULL
     THEN round(date_part('epoch', upd.lease_expires_at) * 1000000)::bigint END
  AS rec_next_lease_expires_us,
CASE WHEN next_lease IS NOT NULL
     THEN round(date_part('epoch', upd.updated_at) * 1000000)::bigint END AS rec_next_claimed_us
