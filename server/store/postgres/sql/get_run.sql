SELECT {{run_columns}} FROM cueball_runs WHERE id = $1::uuid
