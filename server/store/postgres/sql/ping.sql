-- A trivial statement: makes pending LISTENs take effect.
SELECT 1
