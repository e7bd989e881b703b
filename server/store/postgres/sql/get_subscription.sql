SELECT {{subscription_columns}} FROM cueball_subscriptions WHERE name = $1
