-- Writes each outcome of `o` to its run, fenced by its lease; up to the
-- RETURNING list's shared columns.
  -- A next step that stays here is claimed by this statement, as Claim
  -- would: RUNNING under a new lease of the same owner, its attempt counted.
  UPDATE cueball_runs r
  SET status = CASE WHEN o.lease_ms IS NULL OR r.queue = ANY((SELECT names FROM paused)::text[])
                    THEN o.status ELSE 'running' END,
      step_index = o.step_index, step_name = o.step_name,
      attempt = o.attempt + (o.lease_ms IS NOT NULL
                             AND r.queue <> ALL((SELECT names FROM paused)::text[]))::int,
      state = coalesce(o.state::jsonb, r.state), result = o.result::jsonb, error = o.error,
      run_at = CASE WHEN o.run_at_us IS NULL THEN now()
                    ELSE timestamptz 'epoch' + o.run_at_us * interval '1 microsecond' END,
      lease_id = CASE WHEN o.lease_ms IS NOT NULL AND r.queue <> ALL((SELECT names FROM paused)::text[])
                      THEN (SELECT gen_random_uuid()) END,
      lease_owner = CASE WHEN o.lease_ms IS NOT NULL AND r.queue <> ALL((SELECT names FROM paused)::text[])
                         THEN r.lease_owner END,
      lease_expires_at = CASE WHEN r.queue <> ALL((SELECT names FROM paused)::text[])
                              THEN now() + o.lease_ms * interval '1 millisecond' END,
      wait = NULL,
      finished_at = CASE WHEN o.status IN ('succeeded', 'failed', 'canceled') THEN now() END,
      updated_at = now()
  FROM o
  -- The lease is the fence: a lease id is drawn afresh by each claim (one
  -- for the runs it takes) and cleared whenever the run leaves RUNNING, so
  -- with the run's id it matches only the attempt it was given to. (A
  -- `status = 'running'` test here let the planner pick the status index,
  -- whose entries for RUNNING are almost all dead after a
  -- burst: 18 ms per record instead of 0.6, seen with auto_explain.)
  WHERE r.id = o.run_id AND r.lease_id = o.lease_id
  -- start_logged_lease is left as it was: it says whether this attempt's
  -- step_started was written while it ran (migration 0010).
  RETURNING r.id, r.status, r.queue, o.ord,
            r.start_logged_lease IS DISTINCT FROM o.lease_id AS start_unwritten,
            r.lease_id AS next_lease,
            r.lease_expires_at, r.updated_at
