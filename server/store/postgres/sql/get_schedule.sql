-- Schedule $1.
SELECT {{schedule_columns}} FROM cueball_schedules WHERE name = $1
