DELETE FROM cueball_run_waits WHERE waiter_id = $1::uuid
