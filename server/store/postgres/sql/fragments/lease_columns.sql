-- A leased run's lease, after its run columns (ClaimedReader, rows.h).
lease_id::text AS lease_id,
round(date_part('epoch', lease_expires_at) * 1000000)::bigint AS lease_expires_us, lease_owner
