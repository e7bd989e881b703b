-- Every schedule, by name.
SELECT {{schedule_columns}} FROM cueball_schedules ORDER BY name
