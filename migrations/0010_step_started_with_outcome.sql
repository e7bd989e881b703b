-- 0010: an attempt's step_started is written with its outcome.
--
-- Why: the claim wrote a step_started row for every run it handed out, one
-- of the three event rows of a no-op run (about 50,000 of the 367,000
-- instructions PostgreSQL spent per drained run, docs/performance.md,
-- "The start of an attempt written with its end"). Most steps end within
-- milliseconds, so the store now writes the start in the same row as the
-- attempt's first outcome event, as Temporal writes an activity's start
-- when the activity closes. The run row says the run is running (status,
-- attempt, lease owner) from the claim on, as before; a step that runs
-- longer than a moment gets its start written while it runs, by the daemon
-- running it; a cancel or a rescue that ends an attempt whose start was
-- not written writes it first (docs/design.md, "The event stream").
--
-- A row whose `started_at` is set stands for one more event before its
-- own: a step_started of the same run, step and attempt at `started_at`,
-- with data {"owner": started_by}. Such a row is at most three events
-- (with `also`, migration 0009): its start at `seq` and `ord`, its own kind
-- at `+ 1`, its `also` at `+ 2`. Its batch counts them all. Seqs step by 3
-- from here on, so the seqs a row stands for are never drawn for another.
-- Rows written before keep their meaning (no `started_at`: `seq`, `seq + 1`).
--
-- `start_logged_lease` on a run is the lease whose step_started was
-- written while its attempt ran; the store writes an attempt's start with
-- its end only while it differs from the attempt's lease, so a start is
-- never written twice, whoever ends the attempt. (A claim draws a new lease
-- id, so it needs no reset.)
--
-- Every daemon sharing a database must run a build with this migration:
-- an older build neither reads a row's start nor writes starts with
-- outcomes.

ALTER TABLE cueball_runs ADD COLUMN start_logged_lease uuid;
ALTER TABLE cueball_events ADD COLUMN started_at timestamptz, ADD COLUMN started_by text;
ALTER SEQUENCE cueball_events_seq_seq INCREMENT BY 3;

-- One row per event, as clients see them (position NULL until numbered).
CREATE OR REPLACE VIEW cueball_event_log AS
SELECT e.run_id, e.seq + x.i AS seq,
       CASE WHEN x.i < s.k THEN 'step_started' WHEN x.i = s.k THEN e.kind ELSE e.also END AS kind,
       e.step, e.attempt,
       CASE WHEN x.i < s.k THEN jsonb_build_object('owner', e.started_by) ELSE e.data END AS data,
       CASE WHEN x.i < s.k THEN e.started_at ELSE e.created_at END AS created_at,
       e.batch_id, e.ord + x.i AS ord, b.position + e.ord + x.i AS position
FROM cueball_events e
CROSS JOIN LATERAL (SELECT CASE WHEN e.started_at IS NULL THEN 0 ELSE 1 END AS k) s
CROSS JOIN LATERAL generate_series(0, s.k + CASE WHEN e.also IS NULL THEN 0 ELSE 1 END) AS x(i)
LEFT JOIN cueball_event_batches b ON b.id = e.batch_id;
