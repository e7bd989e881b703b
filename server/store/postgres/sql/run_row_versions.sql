-- Live and dead row versions of cueball_runs, and whether this role may
-- vacuum it, as VACUUM checks it: the table's owner or the database's (or a
-- role with their privileges, or a superuser).
SELECT s.n_live_tup AS live, s.n_dead_tup AS dead,
       pg_has_role(c.relowner, 'USAGE') OR pg_has_role(d.datdba, 'USAGE') AS may_vacuum
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
JOIN pg_database d ON d.datname = current_database()
WHERE s.relid = 'cueball_runs'::regclass
