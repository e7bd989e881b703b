-- The columns of a schedule, as ReadSchedules (pg_schedules.cc) reads them.
name, cron, timezone, workflow_type, input::text AS input, queue, priority, tags::text AS tags,
catch_up, round(date_part('epoch', paused_at) * 1000000)::bigint AS paused_us,
round(date_part('epoch', next_at) * 1000000)::bigint AS next_us,
round(date_part('epoch', last_tick_at) * 1000000)::bigint AS last_tick_us,
last_run_id::text AS last_run_id,
round(date_part('epoch', created_at) * 1000000)::bigint AS created_us,
round(date_part('epoch', updated_at) * 1000000)::bigint AS updated_us,
round(date_part('epoch', now()) * 1000000)::bigint AS db_now_us
