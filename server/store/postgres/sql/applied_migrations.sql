SELECT version, name, checksum FROM cueball_schema_migrations ORDER BY version
