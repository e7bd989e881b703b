name, position, round(date_part('epoch', created_at) * 1000000)::bigint AS created_us,
round(date_part('epoch', acked_at) * 1000000)::bigint AS acked_us
