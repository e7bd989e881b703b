-- Prepared on every connection of the dispatch pool. Claims up to $4 runs
-- of types $3 from queues $2 for owner $1, leased for $5 ms. Besides whole
-- types, $9 names single steps as 'type/step': a run of such a type is
-- claimed only while that is its current step (a mixed type's remote steps
-- go to remote workers, its other steps to daemons). With $9 empty the
-- test costs one comparison of a constant.
--
-- The claim walks each queue's priorities that have enqueued runs (one index
-- probe each, which also finds where the priority's first entry is) and scans
-- each priority's ready runs from there in (run_at, id) order (LATERAL), so
-- `run_at <= now()` ends each scan at the first run not due yet: runs scheduled
-- for later are never read. (A single scan in (priority, run_at, id) order can
-- only filter on run_at, and read every run held for later on each claim: 34-57
-- ms with half a million held.) A plain `queue = ANY($2)` makes the planner
-- drop the index order and sort every ready run on each claim: 25 ms per claim
-- at 50k queued. The scans are merged in (priority, run_at, id) order and cut
-- to the limit; the priorities come sorted, so an incremental sort stops once a
-- priority fills the limit. Runs locked by a scan but not picked are released
-- at commit. Each queue's scan starts at the key ($6 priority, $7 run_at in us
-- since the epoch, $8 id; aligned with $2) given by PgRunStore::Claim: the
-- lowest key (no bound), or, while a backlog drains, the last key it claimed,
-- which skips the index entries of runs claimed since the last vacuum (see
-- Claim): priorities below the key's are skipped, the key's own starts at its
-- (run_at, id), the ones above it from their first entry. A NULL run_at means
-- no key.
WITH RECURSIVE prio AS (
  -- Each priority with enqueued runs and where its scan starts: the first
  -- entry the index holds for it (the walk past dead entries happens once,
  -- here), or the key for the key's own priority (no walk at all).
  SELECT q.name, f.p, f.sr, f.si
  FROM unnest($2::text[], $6::int[], $7::bigint[], $8::text[]) AS q(name, hp, hr, hi)
  CROSS JOIN LATERAL (
    SELECT q.hp AS p, timestamptz 'epoch' + q.hr * interval '1 microsecond' AS sr,
           q.hi::uuid AS si
    WHERE q.hr IS NOT NULL
    UNION ALL
    (SELECT priority, run_at, id FROM cueball_runs
     WHERE status = 'enqueued' AND queue = q.name AND q.hr IS NULL
     ORDER BY priority, run_at, id LIMIT 1)
  ) f
  -- A paused queue (migration 0013) starts nothing: no scan of it at all.
  WHERE NOT EXISTS (SELECT 1 FROM cueball_queues p WHERE p.name = q.name AND p.paused_at IS NOT NULL)
  UNION ALL
  SELECT prio.name, f.priority, f.run_at, f.id
  FROM prio CROSS JOIN LATERAL (
    SELECT priority, run_at, id FROM cueball_runs
    WHERE status = 'enqueued' AND queue = prio.name AND priority > prio.p
    ORDER BY priority, run_at, id LIMIT 1
  ) f
), picked AS (
  SELECT c.id FROM (SELECT * FROM prio ORDER BY p) pr
  CROSS JOIN LATERAL (
    SELECT id, run_at FROM cueball_runs
    WHERE status = 'enqueued' AND queue = pr.name AND priority = pr.p
      AND (workflow_type = ANY($3::text[])
           OR (cardinality($9::text[]) > 0 AND workflow_type || '/' || step_name = ANY($9::text[])))
      AND run_at <= now()
      AND (run_at, id) >= (pr.sr, pr.si)
    ORDER BY run_at, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
  ) c
  ORDER BY pr.p, c.run_at, c.id
  LIMIT $4
), upd AS (
  UPDATE cueball_runs r
  -- One lease id for the runs of this claim (a fence is always the pair of
  -- run id and lease id): drawn once, where one per run was 3-4% of
  -- PostgreSQL's instructions per drained run (pg_strong_random).
  SET status = 'running', attempt = r.attempt + 1, lease_id = (SELECT gen_random_uuid()),
      lease_owner = $1, lease_expires_at = now() + $5 * interval '1 millisecond',
      started_at = coalesce(r.started_at, now()), updated_at = now()
  -- By the primary key: written as a join, the claim's plan hashed a
  -- sequential scan of the whole table whenever it was small enough (two
  -- thirds of the claims of a 20,000-run bench, 9 ms each, auto_explain);
  -- the planner takes an array from a subquery for a few values.
  WHERE r.id = ANY(ARRAY(SELECT id FROM picked))
  RETURNING r.id, r.workflow_type, r.queue, r.priority, r.step_index, r.step_name, r.attempt,
            r.input, r.state, r.run_at, r.updated_at, r.wait, r.lease_id, r.lease_expires_at,
            r.lease_owner
), nd AS (
  -- When the claim comes back short, when the claim loop should look again:
  -- the first enqueued run of these types it did not take, from where each
  -- priority's scan started (so the dead entries before it are not walked
  -- again): due now (0: locked by another claimer), held for later (ms until
  -- due), or none (NULL).
  SELECT CASE WHEN (SELECT count(*) FROM picked) < $4 THEN (
    SELECT CASE WHEN min(x.run_at) IS NOT NULL
                THEN greatest(0, ceil(extract(epoch FROM min(x.run_at) - now()) * 1000))::bigint
           END
    FROM prio pr CROSS JOIN LATERAL (
      SELECT run_at FROM cueball_runs
      WHERE status = 'enqueued' AND queue = pr.name AND priority = pr.p
        AND (workflow_type = ANY($3::text[])
             OR (cardinality($9::text[]) > 0
                 AND workflow_type || '/' || step_name = ANY($9::text[])))
        AND (run_at, id) >= (pr.sr, pr.si)
        AND id NOT IN (SELECT id FROM picked)
      ORDER BY run_at, id  -- the ready index's order: never a sequential scan
      LIMIT 1
    ) x)
  END AS next_ms,
  -- The claim commits without waiting for its WAL to reach the disk (for
  -- this transaction only): a claim lost to a crash of the database only
  -- hands its runs out again (steps run at least once), and whatever a step
  -- makes durable (its outcome, children, blobs, signals taken) commits
  -- synchronously after the claim, which flushes the claim's WAL too.
  set_config('synchronous_commit', 'off', true) AS commit_async
)
-- At least one row, for next_ms: without claimed runs, one whose run
-- columns are NULL. Only the run columns a step needs (ClaimedRun): all of
-- them cost 2.6% more of PostgreSQL's instructions per drained run, and
-- their parse in the daemon (docs/performance.md). The claim writes no
-- event: the attempt's step_started is written later (0010).
SELECT id::text AS id, workflow_type, queue, priority, 'running' AS status, step_index, step_name,
       attempt, input::text AS input, state::text AS state,
       round(date_part('epoch', updated_at) * 1000000)::bigint AS updated_us,
       round(date_part('epoch', run_at) * 1000000)::bigint AS run_us, wait::text AS wait,
       {{lease_columns}}, nd.next_ms
FROM nd LEFT JOIN upd ON true ORDER BY priority, run_at, id
