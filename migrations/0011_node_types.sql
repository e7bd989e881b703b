-- Each daemon records the workflow types it registers, so that runs whose
-- type no live daemon runs (they would never be claimed, nor rescued) can be
-- shown by `cueball get`/`list` and counted by cueball_runs_unserved. An
-- empty array is a daemon of an older build, which did not say: it is taken
-- to run every type.
ALTER TABLE cueball_nodes ADD COLUMN types text[] NOT NULL DEFAULT '{}';
