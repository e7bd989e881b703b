SELECT {{summary_columns}} FROM cueball_run_summaries WHERE id = ANY($1::uuid[])
