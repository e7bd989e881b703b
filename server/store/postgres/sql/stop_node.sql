UPDATE cueball_nodes SET stopped_at = now() WHERE id = $1
