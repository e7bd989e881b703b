DELETE FROM cueball_subscriptions WHERE name = $1
