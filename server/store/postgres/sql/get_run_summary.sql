-- A run removed by retention answers with its summary.
SELECT {{summary_columns}} FROM cueball_run_summaries WHERE id = $1::uuid
