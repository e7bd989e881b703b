seq, name, payload::text AS payload,
round(date_part('epoch', created_at) * 1000000)::bigint AS created_us
