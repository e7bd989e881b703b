-- Whether the migrations' own table exists (a database never migrated has none).
SELECT to_regclass('cueball_schema_migrations') IS NOT NULL AS present
