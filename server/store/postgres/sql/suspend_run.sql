-- Suspends run $1 (locked and fenced by the caller) at step $2/$3, attempt
-- $4, state $5, wait $6, deadline $7 (us), or sends it straight back to the
-- queue when its wait is already over ($8: how it woke, or a deadline
-- already due).
WITH v AS (
  SELECT CASE WHEN $8::text IS NOT NULL THEN $8::text
              WHEN $7::bigint IS NOT NULL
                   AND timestamptz 'epoch' + $7 * interval '1 microsecond' <= now()
                THEN CASE WHEN $6::jsonb->>'for' = 'timer' THEN 'timer' ELSE 'timeout' END
         END AS woke
)
UPDATE cueball_runs r
SET status = CASE WHEN v.woke IS NULL THEN 'waiting' ELSE 'enqueued' END,
    step_index = $2, step_name = $3, attempt = $4, state = coalesce($5::jsonb, r.state),
    wait = CASE WHEN v.woke IS NULL THEN $6::jsonb
                ELSE $6::jsonb || jsonb_build_object('woke', v.woke) END,
    run_at = CASE WHEN v.woke IS NOT NULL THEN now()
                  WHEN $7::bigint IS NULL THEN '9999-12-31 00:00:00+00'::timestamptz
                  ELSE timestamptz 'epoch' + $7 * interval '1 microsecond' END,
    lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
FROM v
WHERE r.id = $1::uuid
RETURNING v.woke, r.queue
