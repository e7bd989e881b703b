-- Subscription $1 at position $2, unless it exists.
INSERT INTO cueball_subscriptions (name, position) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING
