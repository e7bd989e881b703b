SELECT {{subscription_columns}} FROM cueball_subscriptions ORDER BY name
