-- Worker $1.
SELECT {{worker_columns}} FROM cueball_workers WHERE id = $1
