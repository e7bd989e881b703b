-- The columns of a run, as RunReader (rows.h) reads them by name. Times
-- travel as microseconds since the epoch: date_part computes them in double
-- precision, exact to the microsecond for any date a run can have (round()
-- takes the representation error away), at less than half the cost of
-- extract(), which computes in numeric since PostgreSQL 14.
id::text AS id, workflow_type, queue, priority, status, step_index, step_name, attempt,
input::text AS input, state::text AS state, result::text AS result, error, idempotency_key,
round(date_part('epoch', created_at) * 1000000)::bigint AS created_us,
round(date_part('epoch', updated_at) * 1000000)::bigint AS updated_us,
round(date_part('epoch', run_at) * 1000000)::bigint AS run_us,
round(date_part('epoch', started_at) * 1000000)::bigint AS started_us,
round(date_part('epoch', finished_at) * 1000000)::bigint AS finished_us,
parent_id::text AS parent_id, wait::text AS wait, tags::text AS tags,
round(date_part('epoch', deadline_at) * 1000000)::bigint AS deadline_us, deadline_action
