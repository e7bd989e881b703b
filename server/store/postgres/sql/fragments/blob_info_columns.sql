name, content_type, size, sha256,
round(date_part('epoch', created_at) * 1000000)::bigint AS created_us,
round(date_part('epoch', updated_at) * 1000000)::bigint AS updated_us
