SELECT {{run_columns}} FROM cueball_runs WHERE id = ANY($1::uuid[])
