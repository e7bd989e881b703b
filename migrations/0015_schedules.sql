-- 0015: cron schedules.
--
-- Each schedule enqueues one run of its workflow type per tick of its cron
-- expression, evaluated in its time zone. `next_at` is the next tick not yet
-- fired. Every daemon looks for due schedules (the partial index below);
-- firing one moves next_at on with a compare-and-set on its old value and
-- enqueues the run in the same transaction, so a tick is fired by exactly
-- one daemon, however many there are. The run's idempotency key names the
-- schedule and the tick as well.
CREATE TABLE cueball_schedules (
  name          text        PRIMARY KEY,
  cron          text        NOT NULL,
  timezone      text        NOT NULL,
  workflow_type text        NOT NULL,
  input         jsonb       NOT NULL DEFAULT '{}',
  queue         text        NOT NULL DEFAULT 'default',
  priority      integer     NOT NULL DEFAULT 0,
  tags          jsonb,
  -- Ticks missed while no daemon ran: 'one' enqueues one run for them on
  -- return (for the latest), 'skip' enqueues none.
  catch_up      text        NOT NULL DEFAULT 'one' CHECK (catch_up IN ('one', 'skip')),
  paused_at     timestamptz,
  next_at       timestamptz NOT NULL,
  last_tick_at  timestamptz,
  last_run_id   uuid,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cueball_schedules_due ON cueball_schedules (next_at) WHERE paused_at IS NULL;
