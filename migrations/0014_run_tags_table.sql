-- 0014: tags are found through a table of their own, not a GIN index.
--
-- Why: the GIN index of 0013 on cueball_runs.tags took new entries at every
-- write of a tagged run (no update of a run is HOT), three per no-op run:
-- with two tags of a value each, enqueue fell from 61k to 41k runs/s and
-- the drain from 31k to 24k (docs/performance.md, "Flow control"). Tags
-- never change after enqueue, so they are written once, here, by the
-- enqueue statement: a claim or a record of a tagged run costs what an
-- untagged one does. The column stays for showing a run's tags.
--
-- The primary key (key, value, run_id) finds a tag's runs newest first, so
-- a page of runs with a tag is read from it in order, however many runs
-- carry the tag. Retention deletes a run's rows with the run.
DROP INDEX cueball_runs_tags;
CREATE TABLE cueball_run_tags (
  key    text NOT NULL,
  value  text NOT NULL,
  run_id uuid NOT NULL,
  PRIMARY KEY (key, value, run_id)
);
INSERT INTO cueball_run_tags (key, value, run_id)
SELECT t.key, t.value, r.id FROM cueball_runs r, jsonb_each_text(r.tags) t
WHERE r.tags IS NOT NULL;
