#include "server/store/postgres/pg_run_store.h"

#include <algorithm>
#include <charconv>
#include <exception>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "server/store/postgres/pg_array.h"
#include "server/store/postgres/pg_event_store.h"

namespace cueball::store::pg {
namespace {

using json = nlohmann::json;

// Every query that returns runs selects these columns, in this order.
// Times travel as microseconds since the epoch. date_part computes them in
// double precision, exact to the microsecond for any date a run can have
// (round() takes the representation error away), at less than half the
// cost of extract(), which computes in numeric since PostgreSQL 14.
constexpr const char* kRunColumns =
    "id::text, workflow_type, queue, priority, status, step_index, step_name, attempt, "
    "input::text, state::text, result::text, error, idempotency_key, "
    "round(date_part('epoch', created_at) * 1000000)::bigint, "
    "round(date_part('epoch', updated_at) * 1000000)::bigint, "
    "round(date_part('epoch', run_at) * 1000000)::bigint, "
    "round(date_part('epoch', started_at) * 1000000)::bigint, "
    "round(date_part('epoch', finished_at) * 1000000)::bigint, parent_id::text, wait::text";

// Field readers that skip libpqxx's general conversions (field::as took a
// sixth of the daemon's instructions, reading the rows of claims and
// enqueues). Like field::as, a NULL where a value must be is an error.
std::string Text(const pqxx::field& f) {
  if (f.is_null()) throw pqxx::conversion_error("NULL in column " + std::to_string(f.num()));
  return std::string(f.c_str(), f.size());
}

int64_t Int(const pqxx::field& f) {
  int64_t v = 0;
  const char* s = f.c_str();
  auto [end, ec] = std::from_chars(s, s + f.size(), v);
  if (f.is_null() || ec != std::errc() || end != s + f.size()) {
    throw pqxx::conversion_error("not an integer in column " + std::to_string(f.num()));
  }
  return v;
}

std::optional<std::string> OptText(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return Text(f);
}

std::optional<TimePoint> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromMicros(Int(f));
}

}  // namespace

Run RunFromRow(const pqxx::row& row, int first) {
  // The columns of Cols(), from `first` on.
  auto col = [&](int k) { return row[first + k]; };
  Run r;
  r.id = Text(col(0));
  r.workflow_type = Text(col(1));
  r.queue = Text(col(2));
  r.priority = static_cast<int>(Int(col(3)));
  r.status =
      ParseRunStatus(std::string_view(col(4).c_str(), col(4).size())).value_or(RunStatus::kFailed);
  r.step_index = static_cast<int>(Int(col(5)));
  r.step_name = Text(col(6));
  r.attempt = static_cast<int>(Int(col(7)));
  r.input = Text(col(8));
  r.state = Text(col(9));
  r.result = OptText(col(10));
  r.error = OptText(col(11));
  r.idempotency_key = OptText(col(12));
  r.created_at = FromMicros(Int(col(13)));
  r.updated_at = FromMicros(Int(col(14)));
  r.run_at = FromMicros(Int(col(15)));
  r.started_at = OptTime(col(16));
  r.finished_at = OptTime(col(17));
  r.parent_id = OptText(col(18));
  r.wait = OptText(col(19));
  return r;
}

std::string Cols() { return kRunColumns; }

namespace {

// The same columns from a pruned run's summary (no payloads).
constexpr const char* kSummaryColumns =
    "id::text, workflow_type, queue, 0, status, step_index, step_name, attempt, "
    "'{}', '{}', NULL::text, NULL::text, NULL::text, "
    "round(date_part('epoch', created_at) * 1000000)::bigint, "
    "round(date_part('epoch', finished_at) * 1000000)::bigint, "
    "round(date_part('epoch', finished_at) * 1000000)::bigint, "
    "round(date_part('epoch', started_at) * 1000000)::bigint, "
    "round(date_part('epoch', finished_at) * 1000000)::bigint, NULL::text, NULL::text";

Run SummaryFromRow(const pqxx::row& row) {
  Run r = RunFromRow(row);
  r.pruned = true;
  return r;
}

// Queries returning leased runs select kRunColumns followed by these.
constexpr const char* kLeaseColumns =
    "lease_id::text, round(date_part('epoch', lease_expires_at) * 1000000)::bigint, lease_owner";

ClaimedRun ClaimedFromRow(const pqxx::row& row) {
  ClaimedRun cr;
  cr.run = RunFromRow(row);
  cr.lease_id = Text(row[kRunColumnCount]);
  cr.lease_expires_at = FromMicros(Int(row[kRunColumnCount + 1]));
  cr.lease_owner = Text(row[kRunColumnCount + 2]);
  return cr;
}

// Each statement that writes events inserts them as one batch (%EVENTS%,
// see WithEvents); the sequencer gives the batch its positions after it
// commits. The events' rows (run_id, kind, step, attempt, data, n) follow
// each statement.
constexpr const char* kEnqueueSql = R"SQL(
WITH input AS (
  -- Unnested in the select list, streamed (see kRecordSql).
  SELECT unnest($1::int[]) AS ord, unnest($2::uuid[]) AS id, unnest($3::text[]) AS workflow_type,
         unnest($4::text[]) AS step_name, unnest($5::text[]) AS queue,
         unnest($6::int[]) AS priority, unnest($7::text[]) AS input,
         unnest($8::text[]) AS idempotency_key, unnest($9::bigint[]) AS run_at_us,
         unnest($10::uuid[]) AS parent_id
), ins AS (
  INSERT INTO cueball_runs (id, workflow_type, step_name, queue, priority, input,
                            idempotency_key, run_at, parent_id)
  SELECT id, workflow_type, step_name, queue, priority, input::jsonb, idempotency_key,
         CASE WHEN run_at_us IS NULL THEN now()
              ELSE timestamptz 'epoch' + run_at_us * interval '1 microsecond' END, parent_id
  FROM input ORDER BY ord
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING *
), %EVENTS%
SELECT %COLS%,
       -- Announces the queues with new runs (delivered at commit).
       (SELECT count(pg_notify('cueball_ready', q)) FROM (SELECT DISTINCT queue FROM ins) AS d(q))
FROM ins
)SQL";
constexpr const char* kEnqueueEvents = R"SQL(
  SELECT id AS run_id, 'enqueued' AS kind, step_name AS step, 0 AS attempt,
         jsonb_strip_nulls(jsonb_build_object('queue', queue, 'priority', priority,
                                              'run_at', run_at, 'parent_id', parent_id)) AS data,
         row_number() OVER (ORDER BY id) AS n
  FROM ins
)SQL";

// The claim walks each queue's priorities that have enqueued runs (one index
// probe each, which also finds where the priority's first entry is) and scans
// each priority's ready runs from there in (run_at, id) order (LATERAL), so
// `run_at <= now()` ends each scan at the first run not due yet: runs scheduled
// for later are never read. (A single scan in (priority, run_at, id) order can
// only filter on run_at, and read every run held for later on each claim: 34-57
// ms with half a million held.) A plain `queue = ANY($2)` makes the planner
// drop the index order and sort every ready run on each claim: 25 ms per claim
// at 50k queued. The scans are merged in (priority, run_at, id) order and cut
// to the limit; the priorities come sorted, so an incremental sort stops once a
// priority fills the limit. Runs locked by a scan but not picked are released
// at commit. Each queue's scan starts at the key ($6 priority, $7 run_at in us
// since the epoch, $8 id; aligned with $2) given by PgRunStore::Claim: the
// lowest key (no bound), or, while a backlog drains, the last key it claimed,
// which skips the index entries of runs claimed since the last vacuum (see
// Claim): priorities below the key's are skipped, the key's own starts at its
// (run_at, id), the ones above it from their first entry. A NULL run_at means
// no key.
constexpr const char* kClaimSql = R"SQL(
WITH RECURSIVE prio AS (
  -- Each priority with enqueued runs and where its scan starts: the first
  -- entry the index holds for it (the walk past dead entries happens once,
  -- here), or the key for the key's own priority (no walk at all).
  SELECT q.name, f.p, f.sr, f.si
  FROM unnest($2::text[], $6::int[], $7::bigint[], $8::text[]) AS q(name, hp, hr, hi)
  CROSS JOIN LATERAL (
    SELECT q.hp AS p, timestamptz 'epoch' + q.hr * interval '1 microsecond' AS sr,
           q.hi::uuid AS si
    WHERE q.hr IS NOT NULL
    UNION ALL
    (SELECT priority, run_at, id FROM cueball_runs
     WHERE status = 'enqueued' AND queue = q.name AND q.hr IS NULL
     ORDER BY priority, run_at, id LIMIT 1)
  ) f
  UNION ALL
  SELECT prio.name, f.priority, f.run_at, f.id
  FROM prio CROSS JOIN LATERAL (
    SELECT priority, run_at, id FROM cueball_runs
    WHERE status = 'enqueued' AND queue = prio.name AND priority > prio.p
    ORDER BY priority, run_at, id LIMIT 1
  ) f
), picked AS (
  SELECT c.id FROM (SELECT * FROM prio ORDER BY p) pr
  CROSS JOIN LATERAL (
    SELECT id, run_at FROM cueball_runs
    WHERE status = 'enqueued' AND queue = pr.name AND priority = pr.p
      AND workflow_type = ANY($3::text[]) AND run_at <= now()
      AND (run_at, id) >= (pr.sr, pr.si)
    ORDER BY run_at, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
  ) c
  ORDER BY pr.p, c.run_at, c.id
  LIMIT $4
), upd AS (
  UPDATE cueball_runs r
  -- One lease id for the runs of this claim (a fence is always the pair of
  -- run id and lease id): drawn once, where one per run was 3-4% of
  -- PostgreSQL's instructions per drained run (pg_strong_random).
  SET status = 'running', attempt = r.attempt + 1, lease_id = (SELECT gen_random_uuid()),
      lease_owner = $1, lease_expires_at = now() + $5 * interval '1 millisecond',
      started_at = coalesce(r.started_at, now()), updated_at = now()
  -- By the primary key: written as a join, the claim's plan hashed a
  -- sequential scan of the whole table whenever it was small enough (two
  -- thirds of the claims of a 20,000-run bench, 9 ms each, auto_explain);
  -- the planner takes an array from a subquery for a few values.
  WHERE r.id = ANY(ARRAY(SELECT id FROM picked))
  RETURNING r.id, r.workflow_type, r.queue, r.priority, r.step_index, r.step_name, r.attempt,
            r.input, r.state, r.run_at, r.updated_at, r.wait, r.lease_id, r.lease_expires_at,
            r.lease_owner
), nd AS (
  -- When the claim comes back short, when the claim loop should look again:
  -- the first enqueued run of these types it did not take, from where each
  -- priority's scan started (so the dead entries before it are not walked
  -- again): due now (0: locked by another claimer), held for later (ms until
  -- due), or none (NULL).
  SELECT CASE WHEN (SELECT count(*) FROM picked) < $4 THEN (
    SELECT CASE WHEN min(x.run_at) IS NOT NULL
                THEN greatest(0, ceil(extract(epoch FROM min(x.run_at) - now()) * 1000))::bigint
           END
    FROM prio pr CROSS JOIN LATERAL (
      SELECT run_at FROM cueball_runs
      WHERE status = 'enqueued' AND queue = pr.name AND priority = pr.p
        AND workflow_type = ANY($3::text[]) AND (run_at, id) >= (pr.sr, pr.si)
        AND id NOT IN (SELECT id FROM picked)
      ORDER BY run_at, id  -- the ready index's order: never a sequential scan
      LIMIT 1
    ) x)
  END AS next_ms,
  -- The claim commits without waiting for its WAL to reach the disk (for
  -- this transaction only): a claim lost to a crash of the database only
  -- hands its runs out again (steps run at least once), and whatever a step
  -- makes durable (its outcome, children, blobs, signals taken) commits
  -- synchronously after the claim, which flushes the claim's WAL too.
  set_config('synchronous_commit', 'off', true) AS commit_async
)
-- At least one row, for next_ms: without claimed runs, one whose run
-- columns are NULL. The columns of Cols(), but only those a step needs
-- (ClaimedRun): all of them cost 2.6% more of PostgreSQL's instructions per
-- drained run, and their parse in the daemon (docs/performance.md). The claim
-- writes no event: the attempt's step_started is written later (0010).
SELECT id::text, workflow_type, queue, priority, 'running', step_index, step_name, attempt,
       input::text, state::text, NULL::text, NULL::text, NULL::text, 0::bigint,
       round(date_part('epoch', updated_at) * 1000000)::bigint,
       round(date_part('epoch', run_at) * 1000000)::bigint, NULL::bigint, NULL::bigint,
       NULL::text, wait::text, %LEASE%, nd.next_ms
FROM nd LEFT JOIN upd ON true ORDER BY priority, run_at, id
)SQL";

// The outcomes come as one typed array per column (PgArrayWriter); their
// events as flat arrays ($12..$19), each with its outcome's ord. $20: for an
// outcome whose next step stays on this daemon (Outcome::continue_lease),
// the new lease's length in ms; else NULL. Prepared twice (RecordSql):
// as it is, and with the %RUN_...% parts that return whole runs.
constexpr const char* kRecordSql = R"SQL(
WITH o AS (
  -- The arrays side by side, unnested in the select list: a ProjectSet
  -- streams the rows, where unnest() in FROM copied them all into a
  -- tuplestore first.
  SELECT unnest($1::int[]) AS ord, unnest($2::uuid[]) AS run_id, unnest($3::uuid[]) AS lease_id,
         unnest($4::text[]) AS status, unnest($5::int[]) AS step_index,
         unnest($6::text[]) AS step_name, unnest($7::int[]) AS attempt,
         unnest($8::text[]) AS state, unnest($9::text[]) AS result, unnest($10::text[]) AS error,
         unnest($11::bigint[]) AS run_at_us, unnest($20::bigint[]) AS lease_ms
), upd AS (
  -- A next step that stays here is claimed by this statement, as Claim
  -- would: RUNNING under a new lease of the same owner, its attempt counted.
  UPDATE cueball_runs r
  SET status = CASE WHEN o.lease_ms IS NULL THEN o.status ELSE 'running' END,
      step_index = o.step_index, step_name = o.step_name,
      attempt = o.attempt + (o.lease_ms IS NOT NULL)::int,
      state = coalesce(o.state::jsonb, r.state), result = o.result::jsonb, error = o.error,
      run_at = CASE WHEN o.run_at_us IS NULL THEN now()
                    ELSE timestamptz 'epoch' + o.run_at_us * interval '1 microsecond' END,
      lease_id = CASE WHEN o.lease_ms IS NOT NULL THEN (SELECT gen_random_uuid()) END,
      lease_owner = CASE WHEN o.lease_ms IS NOT NULL THEN r.lease_owner END,
      lease_expires_at = now() + o.lease_ms * interval '1 millisecond', wait = NULL,
      finished_at = CASE WHEN o.status IN ('succeeded', 'failed', 'canceled') THEN now() END,
      updated_at = now()
  FROM o
  -- The lease is the fence: a lease id is drawn afresh by each claim (one
  -- for the runs it takes) and cleared whenever the run leaves RUNNING, so
  -- with the run's id it matches only the attempt it was given to. (A
  -- `status = 'running'` test here let the planner pick the status index,
  -- whose entries for RUNNING are almost all dead after a
  -- burst: 18 ms per record instead of 0.6, seen with auto_explain.)
  WHERE r.id = o.run_id AND r.lease_id = o.lease_id
  -- start_logged_lease is left as it was: it says whether this attempt's
  -- step_started was written while it ran (migration 0010).
  RETURNING r.id, r.status, r.queue, o.ord,
            r.start_logged_lease IS DISTINCT FROM o.lease_id AS start_unwritten,
            CASE WHEN o.lease_ms IS NOT NULL THEN r.lease_id END AS next_lease,
            r.lease_expires_at, r.updated_at%RUN_ROW%
), %EVENTS%
SELECT upd.ord, upd.id::text, upd.status, upd.queue,
       -- The statement announces its own changes (delivered at commit): a
       -- finished run to waiters, a queue with a next step to dispatchers
       -- (not one whose next step stays here).
       CASE WHEN upd.status IN ('succeeded', 'failed', 'canceled')
            THEN pg_notify('cueball_finished', upd.id::text) END,
       (SELECT count(pg_notify('cueball_ready', q))
        FROM (SELECT DISTINCT queue FROM upd
              WHERE status NOT IN ('succeeded', 'failed', 'canceled', 'running')) AS d(q)),
       next_lease::text,
       CASE WHEN next_lease IS NOT NULL
            THEN round(date_part('epoch', upd.lease_expires_at) * 1000000)::bigint END,
       CASE WHEN next_lease IS NOT NULL
            THEN round(date_part('epoch', upd.updated_at) * 1000000)::bigint END%RUN_COLS%
FROM upd%RUN_JOIN%
)SQL";

// An outcome's first event row also stands for the attempt's step_started
// when the outcome brings it ($18 its time in us, $19 its owner) and it was
// not written while the attempt ran (migration 0010); a row with `also` is
// one event more (0009). n counts them all, so the next row starts after.
constexpr const char* kRecordEvents = R"SQL(
  SELECT run_id, kind, step, attempt, data, also, started_at, started_by,
         sum(1 + (also IS NOT NULL)::int + (started_at IS NOT NULL)::int) OVER (ORDER BY k)
           - (also IS NOT NULL)::int - (started_at IS NOT NULL)::int AS n
  FROM (
    SELECT upd.id AS run_id, e.kind, e.step, e.attempt,
           coalesce(e.data::jsonb, '{}'::jsonb) AS data, e.also,
           CASE WHEN upd.start_unwritten
                THEN timestamptz 'epoch' + e.started_us * interval '1 microsecond' END AS started_at,
           CASE WHEN upd.start_unwritten THEN e.started_by END AS started_by, e.k
    FROM (SELECT unnest($12::int[]) AS ord, unnest($13::text[]) AS kind,
                 unnest($14::text[]) AS step, unnest($15::int[]) AS attempt,
                 unnest($16::text[]) AS data, unnest($17::text[]) AS also,
                 unnest($18::bigint[]) AS started_us, unnest($19::text[]) AS started_by,
                 generate_series(1, cardinality($12::int[])) AS k) e
    JOIN upd ON upd.ord = e.ord
  ) x
)SQL";

// A canceled run that was running may end an attempt whose step_started
// is not written yet (migration 0010): `before` locks the run and reads, of
// its latest version, when and by whom that attempt was claimed (the claim
// set updated_at); its run_canceled row then stands for that start too.
constexpr const char* kCancelSql = R"SQL(
WITH before AS (
  SELECT id, CASE WHEN status = 'running' AND start_logged_lease IS DISTINCT FROM lease_id
                  THEN updated_at END AS start_at, lease_owner AS start_by
  FROM cueball_runs
  WHERE id = $1::uuid AND status IN ('enqueued', 'running', 'waiting')
  FOR UPDATE
), upd AS (
  UPDATE cueball_runs r
  SET status = 'canceled', error = $2, lease_id = NULL, lease_owner = NULL,
      lease_expires_at = NULL, wait = NULL, finished_at = now(), updated_at = now()
  FROM before b
  WHERE r.id = b.id
  RETURNING r.*, b.start_at, b.start_by
), %EVENTS%, waits AS (
  DELETE FROM cueball_run_waits w USING upd WHERE w.waiter_id = upd.id
)
SELECT %COLS% FROM upd
)SQL";
constexpr const char* kCancelEvents = R"SQL(
  SELECT id AS run_id, 'run_canceled' AS kind, step_name AS step, attempt,
         jsonb_build_object('reason', $2::text) AS data, start_at AS started_at,
         CASE WHEN start_at IS NOT NULL THEN start_by END AS started_by, 1::bigint AS n
  FROM upd
)SQL";

// After a run is canceled: its unfinished descendants (children, their
// children, ...), each with its own run_canceled event naming the parent
// (and the step_started of an attempt it ends, as above).
constexpr const char* kCancelChildrenSql = R"SQL(
WITH RECURSIVE tree AS (
  SELECT id FROM cueball_runs WHERE parent_id = $1::uuid
  UNION
  SELECT c.id FROM cueball_runs c JOIN tree t ON c.parent_id = t.id
), before AS (
  SELECT r.id, CASE WHEN r.status = 'running' AND r.start_logged_lease IS DISTINCT FROM r.lease_id
                    THEN r.updated_at END AS start_at, r.lease_owner AS start_by
  FROM cueball_runs r JOIN tree t ON r.id = t.id
  WHERE r.status IN ('enqueued', 'running', 'waiting')
  FOR UPDATE OF r
), upd AS (
  UPDATE cueball_runs r
  SET status = 'canceled', error = $2, lease_id = NULL, lease_owner = NULL,
      lease_expires_at = NULL, wait = NULL, finished_at = now(), updated_at = now()
  FROM before b
  WHERE r.id = b.id
  RETURNING r.id, r.step_name, r.attempt, b.start_at, b.start_by
), %EVENTS%, waits AS (
  DELETE FROM cueball_run_waits w USING upd WHERE w.waiter_id = upd.id
)
SELECT id::text FROM upd
)SQL";
constexpr const char* kCancelChildrenEvents = R"SQL(
  SELECT id AS run_id, 'run_canceled' AS kind, step_name AS step, attempt,
         jsonb_build_object('reason', $2::text, 'canceled_with', $1::text) AS data,
         start_at AS started_at, CASE WHEN start_at IS NOT NULL THEN start_by END AS started_by,
         sum(1 + (start_at IS NOT NULL)::int) OVER (ORDER BY id)
           - (start_at IS NOT NULL)::int AS n
  FROM upd
)SQL";

constexpr const char* kRetrySql = R"SQL(
WITH upd AS (
  UPDATE cueball_runs
  SET status = 'enqueued', attempt = 0, error = NULL, result = NULL, finished_at = NULL,
      run_at = now(), updated_at = now()
  WHERE id = $1::uuid AND status = 'failed'
  RETURNING *
), %EVENTS%
SELECT %COLS% FROM upd
)SQL";
constexpr const char* kRetryEvents = R"SQL(
  SELECT id AS run_id, 'run_retried' AS kind, step_name AS step, 0 AS attempt,
         jsonb_build_object('reason', $2::text) AS data, 1::bigint AS n
  FROM upd
)SQL";

// The record and enqueue statements notify these channels by name.
static_assert(std::string_view(kReadyChannel) == "cueball_ready" &&
                  std::string_view(kFinishedChannel) == "cueball_finished",
              "kRecordSql and kEnqueueSql name the notification channels");

// Prepared on every connection of the pool (names of server-side statements).
constexpr const char* kEnqueueStmt = "cueball_enqueue";
constexpr const char* kClaimStmt = "cueball_claim";
constexpr const char* kRecordStmt = "cueball_record";
constexpr const char* kRecordRunsStmt = "cueball_record_runs";
// Where the whole run's columns begin in a row of kRecordSql's result.
constexpr int kRecordRunColumn = 9;

// The statement with its run columns and its events' CTEs filled in.
std::string WithCols(std::string sql, const std::string& events, unsigned columns = 0) {
  sql = WithEvents(std::move(sql), events, columns);
  auto pos = sql.find("%COLS%");
  if (pos != std::string::npos) sql.replace(pos, 6, Cols());
  pos = sql.find("%LEASE%");
  if (pos != std::string::npos) sql.replace(pos, 7, kLeaseColumns);
  return sql;
}

// kRecordSql, or (runs) the record that also returns whole runs: those of
// the outcomes whose ords are in $21 (Outcome::return_run), as Cols() from
// column kRecordRunColumn on, NULLs for the others. A statement of its own,
// prepared beside the plain one: its join costs every outcome (about 2% of
// PostgreSQL's instructions per drained run), and runs are asked for only
// while Wait calls are pending on this daemon.
std::string RecordSql(bool runs) {
  std::string sql = kRecordSql;
  auto put = [&](const std::string& name, const char* text) {
    sql.replace(sql.find(name), name.size(), runs ? text : "");
  };
  put("%RUN_ROW%", ",\n            CASE WHEN o.ord = ANY($21::int[]) THEN r END AS run_row");
  put("%RUN_COLS%", ",\n       f.*");
  put("%RUN_JOIN%",
      " LEFT JOIN LATERAL (SELECT %COLS% FROM (SELECT (upd.run_row).*) x) f\n"
      "  ON (upd.run_row).id IS NOT NULL");
  return WithCols(sql, kRecordEvents, kEventStart | kEventAlso);
}

// Arrays from PgArrayWriter as the statement's binary parameters.
template <typename... Writers>
std::vector<pqxx::binarystring> Binary(Writers&... arrays) {
  std::vector<pqxx::binarystring> out;
  out.reserve(sizeof...(Writers));
  (out.emplace_back(arrays.Take()), ...);
  return out;
}

// Why a conditional update matched nothing: NOT_FOUND, or the run's status.
StatusOr<std::string> CurrentStatus(pqxx::transaction_base& tx, const std::string& id) {
  auto cur = tx.exec_params("SELECT status FROM cueball_runs WHERE id = $1::uuid", id);
  if (cur.empty()) return NotFound("id: no run with id " + id);
  return cur[0][0].as<std::string>();
}

// A change made by one statement runs without BEGIN and COMMIT (PostgreSQL
// commits a single statement atomically on its own): one round trip. A
// change of several statements that must commit together gets a transaction.
std::unique_ptr<pqxx::transaction_base> BeginChange(pqxx::connection& c, bool one_statement) {
  if (one_statement) return std::make_unique<pqxx::nontransaction>(c);
  return std::make_unique<pqxx::work>(c);
}

StatusOr<std::vector<Run>> SelectRuns(pqxx::transaction_base& tx, const std::string& sql_tail,
                                      const std::string& array_param) {
  std::vector<Run> runs;
  auto res = tx.exec_params("SELECT " + Cols() + " FROM cueball_runs " + sql_tail, array_param);
  for (const auto& row : res) runs.push_back(RunFromRow(row));
  return runs;
}

}  // namespace

std::string WithEvents(std::string sql, const std::string& rows, unsigned columns) {
  auto pos = sql.find("%EVENTS%");
  if (pos == std::string::npos) return sql;
  // The batch id is only a name; batches are numbered in order of last_seq
  // (see migration 0006), and seqs are drawn in the batch's order. A row
  // that stands for more events (its start, migration 0010; its `also`,
  // 0009) has them at seq + 1 and seq + 2, and the batch counts them.
  std::string names, values;
  if (columns & kEventAlso) names += ", also", values += ", r.also";
  if (columns & kEventStart) {
    names += ", started_at, started_by", values += ", r.started_at, r.started_by";
  }
  if (columns & kEventTime) names += ", created_at", values += ", r.created_at";
  const std::string extra = std::string(columns & kEventAlso ? " + count(also)" : "") +
                            (columns & kEventStart ? " + count(started_at)" : "");
  const std::string more = std::string(columns & kEventAlso ? ", also" : ", NULL::text") +
                           (columns & kEventStart ? ", started_at" : ", NULL::timestamptz");
  const std::string ctes = R"SQL(ev_batch AS (
  SELECT nextval('cueball_event_batches_id_seq') AS id
), ev AS (
  INSERT INTO cueball_events (run_id, kind, step, attempt, data, batch_id, ord)SQL" +
                           names + R"SQL()
  SELECT r.run_id, r.kind, r.step, r.attempt, r.data, (SELECT id FROM ev_batch), r.n)SQL" +
                           values + R"SQL(
  FROM ()SQL" + rows +
                           R"SQL() r
  ORDER BY r.n
  RETURNING seq)SQL" + more +
                           R"SQL(
), ev_count AS (
  INSERT INTO cueball_event_batches (id, count, last_seq)
  SELECT (SELECT id FROM ev_batch), count(*))SQL" +
                           extra + R"SQL(,
         max(seq + (also IS NOT NULL)::int + (started_at IS NOT NULL)::int)
  FROM ev AS ev(seq, also, started_at) HAVING count(*) > 0
))SQL";
  sql.replace(pos, 8, ctes);
  return sql;
}

void InsertEvent(pqxx::transaction_base& tx, const std::string& run_id, const std::string& kind,
                 const std::string& step, int attempt, const std::string& data,
                 const std::optional<AttemptStart>& start) {
  static const std::string sql =
      WithEvents("WITH %EVENTS% SELECT 1",
                 "SELECT $1::uuid AS run_id, $2::text AS kind, $3::text AS step, "
                 "$4::int AS attempt, $5::jsonb AS data, "
                 "(timestamptz 'epoch' + $6::bigint * interval '1 microsecond') AS started_at, "
                 "$7::text AS started_by, "
                 "1::bigint AS n",
                 kEventStart);
  std::optional<int64_t> start_us;
  std::optional<std::string> start_by;
  if (start) start_us = ToMicros(start->at), start_by = start->owner;
  tx.exec_params(sql, run_id, kind, step, attempt, data, start_us, start_by);
}

pqxx::result LockLeasedRun(pqxx::transaction_base& tx, const std::string& run_id,
                           const std::string& lease_id) {
  return tx.exec_params(
      "SELECT step_name, attempt, start_logged_lease IS DISTINCT FROM lease_id "
      "FROM cueball_runs WHERE id = $1::uuid "
      "AND status = 'running' AND lease_id = $2::uuid FOR UPDATE",
      run_id, lease_id);
}

std::string PgTextArray(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

PgRunStore::PgRunStore(const std::string& dsn, int pool_size, Millis statement_timeout)
    : pool_(WithConnectionDefaults(dsn, static_cast<int>(statement_timeout.count())), pool_size,
            [](pqxx::connection& c) {
              // Planned once per connection: these run for every batch of runs.
              c.prepare(kEnqueueStmt, WithCols(kEnqueueSql, kEnqueueEvents));
              c.prepare(kHasWaitersStmt, kHasWaitersSql);
            }),
      dispatch_pool_(WithConnectionDefaults(dsn, static_cast<int>(statement_timeout.count())), 3,
                     [](pqxx::connection& c) {
                       // The claim and the record find their runs through indexes; a
                       // sequential scan of cueball_runs is never the plan wanted, but
                       // the planner takes one on a table that is small or filled since
                       // its last analyze (the claim's update, the record's join:
                       // docs/performance.md). Off, it is used only where no index
                       // applies. With that, they keep one generic plan: planning was
                       // 3-4 us of the claim's 25 per run, and a generic plan made on
                       // an empty table is no longer a sequential scan. (Not on pool_:
                       // List's filters need plans made for their values.)
                       c.set_variable("enable_seqscan", "off");
                       c.set_variable("plan_cache_mode", "force_generic_plan");
                       c.prepare(kClaimStmt, WithCols(kClaimSql, ""));
                       c.prepare(kRecordStmt, RecordSql(false));
                       c.prepare(kRecordRunsStmt, RecordSql(true));
                     }) {}

StatusOr<std::vector<EnqueueResult>> PgRunStore::Enqueue(const std::vector<NewRun>& runs) {
  // One typed array per column (PgArrayWriter), as the statement unnests them.
  PgArrayWriter ords(PgElem::kInt4), ids(PgElem::kUuid), types(PgElem::kText), steps(PgElem::kText),
      queues(PgElem::kText), priorities(PgElem::kInt4), inputs(PgElem::kText),
      idempotency_keys(PgElem::kText), run_ats(PgElem::kInt8), parents(PgElem::kUuid);
  inputs.Reserve(runs.size() * 32);
  std::vector<std::string> keys;
  for (size_t i = 0; i < runs.size(); ++i) {
    const NewRun& r = runs[i];
    ords.Int(static_cast<int64_t>(i));
    ids.Text(r.id);
    types.Text(r.workflow_type);
    steps.Text(r.first_step);
    queues.Text(r.queue);
    priorities.Int(r.priority);
    inputs.Text(r.input);
    idempotency_keys.TextOrNull(r.idempotency_key);
    if (r.idempotency_key) keys.push_back(*r.idempotency_key);
    run_ats.IntOrNull(r.run_at ? std::optional<int64_t>(ToMicros(*r.run_at)) : std::nullopt);
    parents.TextOrNull(r.parent_id);
  }
  const std::vector<pqxx::binarystring> params = Binary(ords, ids, types, steps, queues, priorities,
                                                        inputs, idempotency_keys, run_ats, parents);
  std::vector<EnqueueResult> out;
  bool wrote = false;  // events for the sequencer
  bool has_parents = std::any_of(runs.begin(), runs.end(),
                                 [](const NewRun& r) { return r.parent_id.has_value(); });
  Status st = pool_.With("enqueue", [&](pqxx::connection& c) -> Status {
    // Without keys or parents the insert is the whole change. With them, a
    // refused key or a parent's child_enqueued event follows the insert, and
    // the two commit together (or not at all).
    auto tx = BeginChange(c, keys.empty() && !has_parents);
    // The new rows come back from the insert itself. Runs whose key exists
    // already were skipped: read those (a fresh statement under READ
    // COMMITTED sees keys committed concurrently).
    auto res = tx->exec_prepared(kEnqueueStmt, params[0], params[1], params[2], params[3],
                                 params[4], params[5], params[6], params[7], params[8], params[9]);
    wrote = !res.empty();
    std::map<std::string, Run> by_id;
    std::map<std::string, const Run*> by_key;
    for (const auto& row : res) {
      Run run = RunFromRow(row);
      std::string id = run.id;
      by_id.emplace(id, std::move(run));
    }
    if (by_id.size() < runs.size() && !keys.empty()) {
      auto existing = tx->exec_params(
          "SELECT " + Cols() + " FROM cueball_runs WHERE idempotency_key = ANY($1::text[])",
          PgTextArray(keys));
      for (const auto& row : existing) {
        Run run = RunFromRow(row);
        std::string id = run.id;
        by_id.emplace(id, std::move(run));
      }
    }
    for (const auto& [id, run] : by_id) {
      if (run.idempotency_key) by_key[*run.idempotency_key] = &run;
    }
    for (size_t i = 0; i < runs.size(); ++i) {
      const NewRun& want = runs[i];
      const Run* got = nullptr;
      if (want.idempotency_key) {
        auto it = by_key.find(*want.idempotency_key);
        if (it != by_key.end()) got = it->second;
      } else {
        auto it = by_id.find(want.id);
        if (it != by_id.end()) got = &it->second;
      }
      if (!got) return Internal("enqueue: run " + want.id + " missing after insert");
      if (got->workflow_type != want.workflow_type) {
        return AlreadyExists(want.field_prefix + "idempotency_key: '" + *want.idempotency_key +
                             "' already belongs to run " + got->id + " of workflow type '" +
                             got->workflow_type + "'");
      }
      out.push_back({*got, got->id == want.id});
    }
    // A child run is also recorded in its parent's history.
    std::vector<std::string> children;
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].parent_id && out[i].created) children.push_back(out[i].run.id);
    }
    if (!children.empty()) {
      static const std::string sql =
          WithEvents("WITH %EVENTS% SELECT 1",
                     "SELECT p.id AS run_id, 'child_enqueued' AS kind, p.step_name AS step, "
                     "p.attempt, jsonb_build_object('child_id', c.id, 'workflow_type', "
                     "c.workflow_type) AS data, row_number() OVER (ORDER BY c.id) AS n "
                     "FROM cueball_runs c JOIN cueball_runs p ON p.id = c.parent_id "
                     "WHERE c.id = ANY($1::uuid[])");
      tx->exec_params(sql, PgTextArray(children));
    }
    tx->commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (wrote) EventsWritten();
  return out;
}

StatusOr<Run> PgRunStore::Get(const std::string& id, bool with_history) {
  Run run;
  Status st = pool_.With("get", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params("SELECT " + Cols() + " FROM cueball_runs WHERE id = $1::uuid", id);
    if (res.empty()) {
      auto summary = tx.exec_params(std::string("SELECT ") + kSummaryColumns +
                                        " FROM cueball_run_summaries WHERE id = $1::uuid",
                                    id);
      if (summary.empty()) return NotFound("id: no run with id " + id);
      run = SummaryFromRow(summary[0]);
      return Status::Ok();
    }
    run = RunFromRow(res[0]);
    for (const auto& row :
         tx.exec_params("SELECT id::text, workflow_type, status FROM cueball_runs "
                        "WHERE parent_id = $1::uuid ORDER BY id",
                        id)) {
      run.children.push_back(
          {row[0].as<std::string>(), row[1].as<std::string>(),
           ParseRunStatus(row[2].as<std::string>()).value_or(RunStatus::kFailed)});
    }
    if (with_history) {
      auto ev = tx.exec_params(
          // One row per event: the view expands rows that are two events
          // (migration 0009).
          "SELECT seq, kind, coalesce(step, ''), coalesce(attempt, 0), data::text, "
          "round(date_part('epoch', created_at) * 1000000)::bigint, coalesce(position, 0) "
          "FROM cueball_event_log WHERE run_id = $1::uuid ORDER BY seq",
          id);
      for (const auto& row : ev) {
        Event e;
        e.seq = row[0].as<int64_t>();
        e.run_id = id;
        e.kind = row[1].as<std::string>();
        e.step = row[2].as<std::string>();
        e.attempt = row[3].as<int>();
        e.data = row[4].as<std::string>();
        e.created_at = FromMicros(row[5].as<int64_t>());
        e.position = row[6].as<int64_t>();
        e.workflow_type = run.workflow_type;
        run.history.push_back(std::move(e));
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return run;
}

StatusOr<std::vector<Run>> PgRunStore::GetMany(const std::vector<std::string>& ids) {
  std::vector<Run> runs;
  Status st = pool_.With("get runs", [&](pqxx::connection& c) -> Status {
    // Each statement reads committed rows on its own: a run pruned between
    // the two is found by one of them. No transaction: one round trip.
    pqxx::nontransaction tx(c);
    auto res = SelectRuns(tx, "WHERE id = ANY($1::uuid[])", PgTextArray(ids));
    if (!res.ok()) return res.status();
    runs = std::move(res).value();
    if (runs.size() < ids.size()) {
      // Runs removed by retention answer with their summary.
      auto summaries = tx.exec_params(std::string("SELECT ") + kSummaryColumns +
                                          " FROM cueball_run_summaries WHERE id = ANY($1::uuid[])",
                                      PgTextArray(ids));
      for (const auto& row : summaries) runs.push_back(SummaryFromRow(row));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return runs;
}

namespace {

// The filters List applies in every branch; $1..$6 as List binds them.
constexpr const char* kListFilters =
    "   AND ($1::text IS NULL OR workflow_type = $1)"
    "   AND ($2::text IS NULL OR queue = $2)"
    "   AND ($3::bigint IS NULL OR created_at > (timestamptz 'epoch' + $3 * interval '1 "
    "microsecond'))"
    "   AND ($4::bigint IS NULL OR created_at < (timestamptz 'epoch' + $4 * interval '1 "
    "microsecond'))"
    "   AND ($5::uuid IS NULL OR r.id < $5::uuid)";

// One branch of a list: runs in `statuses` (none: any status) passing the
// filters, newest first. Ordered by the uuid, not by the text it selects.
std::string ListBranch(const std::vector<RunStatus>& statuses) {
  std::string where = "TRUE";
  if (!statuses.empty()) {
    // The names are the store's own constants, not input; as constants in
    // the text they let the planner prove a partial index's predicate.
    where = "r.status IN (";
    for (size_t i = 0; i < statuses.size(); ++i) {
      if (i > 0) where += ", ";
      where += std::string("'") + RunStatusName(statuses[i]) + "'";
    }
    where += ")";
  }
  return "SELECT " + Cols() + " FROM cueball_runs r WHERE " + where + kListFilters +
         " ORDER BY r.id DESC LIMIT $6";
}

// The list statement for a filter. The list indexes leave out enqueued and
// running runs (migration 0008), so a filter that reaches them asks for each
// of those statuses in a branch of its own, where the ready or lease index
// (or the primary key newest first) finds them, and for waiting and finished
// runs in another, where the type and status indexes do. Each branch is
// limited and newest first; the union is merged newest first.
std::string ListSql(const RunFilter& f) {
  if (!f.workflow_type && f.statuses.empty()) return ListBranch({});
  std::vector<RunStatus> wanted = f.statuses;
  if (wanted.empty()) {
    wanted = {RunStatus::kEnqueued,  RunStatus::kRunning, RunStatus::kWaiting,
              RunStatus::kSucceeded, RunStatus::kFailed,  RunStatus::kCanceled};
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  std::vector<std::vector<RunStatus>> groups;
  std::vector<RunStatus> resting;
  for (RunStatus s : wanted) {
    if (s == RunStatus::kEnqueued || s == RunStatus::kRunning) {
      groups.push_back({s});
    } else {
      resting.push_back(s);
    }
  }
  if (!resting.empty()) groups.push_back(resting);
  if (groups.size() == 1) return ListBranch(groups.front());
  std::string sql = "SELECT * FROM (";
  for (size_t i = 0; i < groups.size(); ++i) {
    if (i > 0) sql += " UNION ALL ";
    sql += "(" + ListBranch(groups[i]) + ")";
  }
  return sql + ") l ORDER BY l.id::uuid DESC LIMIT $6";
}

}  // namespace

StatusOr<std::vector<Run>> PgRunStore::List(const RunFilter& f) {
  std::vector<Run> runs;
  std::optional<int64_t> after, before;
  if (f.created_after) after = ToMicros(*f.created_after);
  if (f.created_before) before = ToMicros(*f.created_before);
  const std::string sql = ListSql(f);
  Status st = pool_.With("list", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params(sql, f.workflow_type, f.queue, after, before, f.before_id, f.limit);
    for (const auto& row : res) runs.push_back(RunFromRow(row));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return runs;
}

StatusOr<Run> PgRunStore::Cancel(const std::string& id, const std::string& reason) {
  Run run;
  Status st = pool_.With("cancel", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    static const std::string cancel_sql = WithCols(kCancelSql, kCancelEvents, kEventStart);
    static const std::string children_sql =
        WithCols(kCancelChildrenSql, kCancelChildrenEvents, kEventStart);
    auto res = tx.exec_params(cancel_sql, id, reason);
    if (res.empty()) {
      auto cur = CurrentStatus(tx, id);
      if (!cur.ok()) return cur.status();
      return FailedPrecondition("id: run " + id + " already finished with status " + *cur);
    }
    run = RunFromRow(res[0]);
    tx.exec_params("SELECT pg_notify($1, $2)", kFinishedChannel, id);
    auto children =
        tx.exec_params(children_sql, id, "parent run " + id + " was canceled: " + reason);
    for (const auto& row : children) {
      tx.exec_params("SELECT pg_notify($1, $2)", kFinishedChannel, row[0].as<std::string>());
    }
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  EventsWritten();
  return run;
}

StatusOr<std::vector<std::string>> PgRunStore::ExtendLeases(const std::vector<AttemptRef>& attempts,
                                                            Millis lease) {
  std::vector<std::string> lost;
  if (attempts.empty()) return lost;
  std::vector<std::string> run_ids, lease_ids;
  for (const auto& a : attempts) {
    run_ids.push_back(a.run_id);
    lease_ids.push_back(a.lease_id);
  }
  Status st = pool_.With("extend leases", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    // By the primary key: a lease id is shared by the runs one claim took.
    auto res = tx.exec_params(
        "WITH want AS (SELECT unnest($1::uuid[]) AS id, unnest($2::uuid[]) AS lease_id), "
        "ext AS (UPDATE cueball_runs r SET lease_expires_at = now() + $3 * interval "
        "'1 millisecond' FROM want WHERE r.id = want.id AND r.lease_id = want.lease_id "
        "AND r.status = 'running' RETURNING r.id) "
        "SELECT want.id::text FROM want LEFT JOIN ext USING (id) WHERE ext.id IS NULL",
        PgTextArray(run_ids), PgTextArray(lease_ids), static_cast<int64_t>(lease.count()));
    tx.commit();
    for (const auto& row : res) lost.push_back(row[0].as<std::string>());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return lost;
}

// The step_started of attempts still running, each written once: the run
// row keeps the lease whose start is written (migration 0010), and its
// claim time (updated_at) and owner are the event's.
constexpr const char* kStartsSql = R"SQL(
WITH a AS (
  SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS x(run_id, lease_id)
), upd AS (
  UPDATE cueball_runs r SET start_logged_lease = r.lease_id
  FROM a
  WHERE r.id = a.run_id AND r.lease_id = a.lease_id
    AND r.start_logged_lease IS DISTINCT FROM r.lease_id
  RETURNING r.id, r.step_name, r.attempt, r.updated_at, r.lease_owner
), %EVENTS%
SELECT count(*) FROM upd
)SQL";
constexpr const char* kStartsEvents = R"SQL(
  SELECT id AS run_id, 'step_started' AS kind, step_name AS step, attempt,
         jsonb_build_object('owner', lease_owner) AS data, updated_at AS created_at,
         row_number() OVER (ORDER BY id) AS n
  FROM upd
)SQL";

Status PgRunStore::RecordStarts(const std::vector<AttemptRef>& attempts) {
  if (attempts.empty()) return Status::Ok();
  std::vector<std::string> run_ids, lease_ids;
  for (const auto& a : attempts) {
    run_ids.push_back(a.run_id);
    lease_ids.push_back(a.lease_id);
  }
  static const std::string sql = WithEvents(kStartsSql, kStartsEvents, kEventTime);
  int64_t written = 0;
  Status st = pool_.With("record starts", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    written = tx.exec_params(sql, PgTextArray(run_ids), PgTextArray(lease_ids))[0][0].as<int64_t>();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (written > 0) EventsWritten();
  return Status::Ok();
}

StatusOr<Run> PgRunStore::Retry(const std::string& id, const std::string& reason) {
  Run run;
  static const std::string sql = WithCols(kRetrySql, kRetryEvents);
  Status st = pool_.With("retry", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto res = tx.exec_params(sql, id, reason);
    if (res.empty()) {
      auto cur = CurrentStatus(tx, id);
      if (!cur.ok()) return cur.status();
      return FailedPrecondition("id: run " + id + " is " + *cur +
                                "; only failed runs can be retried");
    }
    run = RunFromRow(res[0]);
    tx.exec_params("SELECT pg_notify($1, $2)", kReadyChannel, run.queue);
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  EventsWritten();
  return run;
}

void PgRunStore::ClaimFrom(pqxx::connection& c, const std::string& owner,
                           const std::vector<std::string>& queues, const std::string& queue_array,
                           const std::string& type_array,
                           const std::map<std::string, ClaimKey>& from, int limit, Millis lease,
                           std::vector<ClaimedRun>* out, std::optional<Millis>* next_due) {
  // Each queue's start key, aligned with `queues`. A queue without one gets
  // a NULL priority and run_at (the SQL reads a NULL run_at as "no key") and
  // the nil UUID, which is never read.
  std::string priorities = "{", run_ats = "{";
  std::vector<std::string> ids;
  for (size_t i = 0; i < queues.size(); ++i) {
    const std::string sep = i == 0 ? "" : ",";
    auto it = from.find(queues[i]);
    if (it == from.end()) {
      priorities += sep + "NULL";
      run_ats += sep + "NULL";
      ids.push_back("00000000-0000-0000-0000-000000000000");
    } else {
      priorities += sep + std::to_string(it->second.priority);
      run_ats += sep + std::to_string(it->second.run_at_us);
      ids.push_back(it->second.id);
    }
  }
  priorities += "}";
  run_ats += "}";
  // One statement, its own transaction: one round trip.
  pqxx::nontransaction tx(c);
  auto res =
      tx.exec_prepared(kClaimStmt, owner, queue_array, type_array, limit,
                       static_cast<int64_t>(lease.count()), priorities, run_ats, PgTextArray(ids));
  next_due->reset();
  for (const auto& row : res) {
    if (!row[kRunColumnCount + 3].is_null())
      *next_due = Millis(row[kRunColumnCount + 3].as<int64_t>());
    if (!row[0].is_null()) out->push_back(ClaimedFromRow(row));  // NULL: nothing claimed
  }
}

// Claimed runs leave their entries in the ready index until a vacuum removes
// them, at the front of their queue's order. A claim that scans from the
// start walks them all: with a million runs queued that grew to thousands of
// index pages per claim, most of the claim's cost. So while a backlog drains
// (every claim full), each queue's next claim starts at the last key this
// store claimed from it. Runs that sort before that key and were not claimed
// (locked by another claimer at the time, released by a stopping daemon, or
// enqueued later with a higher priority or an earlier run_at) are found by a
// scan from the start, which happens at least every kScanFromStartEvery, after
// any claim that was not full, and before a claim reports fewer runs than
// asked (a partial claim still means no ready run is left).
StatusOr<std::vector<ClaimedRun>> PgRunStore::Claim(const std::string& owner,
                                                    const std::vector<std::string>& queues,
                                                    const std::vector<std::string>& types,
                                                    int limit, Millis lease,
                                                    std::optional<Millis>* next_due) {
  constexpr auto kScanFromStartEvery = std::chrono::milliseconds(100);
  // A key only holds for the types it was claimed for: runs of other types
  // before it were never looked at.
  const std::string queue_array = PgTextArray(queues), type_array = PgTextArray(types);
  const std::string scope = queue_array + type_array;
  std::map<std::string, ClaimKey> from;
  {
    std::lock_guard<std::mutex> lock(claim_mu_);
    if (scope != claim_scope_ ||
        std::chrono::steady_clock::now() - last_scan_from_start_ >= kScanFromStartEvery) {
      claim_from_.clear();
      claim_scope_ = scope;
    }
    from = claim_from_;
  }
  std::vector<ClaimedRun> out;
  std::optional<Millis> next;  // from the last statement, which decides
  size_t from_start = 0;       // where the runs of the scan from the start begin
  bool scanned_from_start = false;
  Status st = dispatch_pool_.With("claim", [&](pqxx::connection& c) -> Status {
    out.clear();
    if (!from.empty()) {
      ClaimFrom(c, owner, queues, queue_array, type_array, from, limit, lease, &out, &next);
      if (static_cast<int>(out.size()) == limit) return Status::Ok();
    }
    from_start = out.size();
    scanned_from_start = true;
    try {
      ClaimFrom(c, owner, queues, queue_array, type_array, {}, limit - static_cast<int>(out.size()),
                lease, &out, &next);
    } catch (const std::exception&) {
      // Runs claimed by the first statement are committed: hand them out
      // (the next claim reports the failure; look again soon). With none,
      // this claim failed.
      if (from_start == 0) throw;
      out.resize(from_start);
      next = Millis(0);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (next_due) *next_due = static_cast<int>(out.size()) < limit ? next : std::nullopt;
  {
    std::lock_guard<std::mutex> lock(claim_mu_);
    // A claim for other queues or types may have come in between: then the
    // keys are its own, and stay.
    if (claim_scope_ == scope) {
      if (scanned_from_start) {
        last_scan_from_start_ = std::chrono::steady_clock::now();
        claim_from_.clear();
      }
      if (static_cast<int>(out.size()) < limit) {
        claim_from_.clear();  // nothing more is ready: the next claim starts from the start
      } else {
        // Each queue's last key: the runs of one statement are a prefix of
        // each queue's order, returned in (priority, run_at, id) order, so
        // its last run is its key (walked back to, not set once per run).
        std::set<std::string_view> keyed;
        for (size_t i = out.size(); i > from_start && keyed.size() < queues.size(); --i) {
          const Run& r = out[i - 1].run;
          if (keyed.insert(r.queue).second) {
            claim_from_[r.queue] = ClaimKey{r.priority, ToMicros(r.run_at), r.id};
          }
        }
      }
    }
  }
  return out;
}

StatusOr<std::vector<bool>> PgRunStore::RecordOutcomes(const std::vector<Outcome>& outcomes,
                                                       Recorded* recorded) {
  // The columns the record statement unnests, one array each; invalid UTF-8
  // that slipped past Decide is replaced (PgArrayWriter) rather than failing
  // every retry of the batch.
  PgArrayWriter ords(PgElem::kInt4), run_ids(PgElem::kUuid), lease_ids(PgElem::kUuid),
      statuses(PgElem::kText), step_indexes(PgElem::kInt4), step_names(PgElem::kText),
      attempts(PgElem::kInt4), states(PgElem::kText), results(PgElem::kText), errors(PgElem::kText),
      run_ats(PgElem::kInt8), lease_ms(PgElem::kInt8), return_runs(PgElem::kInt4);
  // Their events, flat, each with its outcome's ord.
  PgArrayWriter ev_ords(PgElem::kInt4), ev_kinds(PgElem::kText), ev_steps(PgElem::kText),
      ev_attempts(PgElem::kInt4), ev_data(PgElem::kText), ev_also(PgElem::kText),
      ev_started_us(PgElem::kInt8), ev_started_by(PgElem::kText);
  ev_data.Reserve(outcomes.size() * 48);
  size_t row_count = 0;
  std::vector<size_t> waits;  // recorded one by one under the run's lock
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const Outcome& o = outcomes[i];
    if (o.status == RunStatus::kWaiting) {
      waits.push_back(i);
      continue;
    }
    ++row_count;
    ords.Int(static_cast<int64_t>(i));
    run_ids.Text(o.run_id);
    lease_ids.Text(o.lease_id);
    statuses.Text(RunStatusName(o.status));
    step_indexes.Int(o.step_index);
    step_names.Text(o.step_name);
    attempts.Int(o.attempt);
    states.TextOrNull(o.state);
    results.TextOrNull(o.result);
    errors.TextOrNull(o.error);
    run_ats.IntOrNull(o.run_at ? std::optional<int64_t>(ToMicros(*o.run_at)) : std::nullopt);
    lease_ms.IntOrNull(recorded && o.continue_lease && o.status == RunStatus::kEnqueued
                           ? std::optional<int64_t>(o.continue_lease->count())
                           : std::nullopt);
    if (recorded && o.return_run && IsTerminal(o.status)) {
      return_runs.Int(static_cast<int64_t>(i));
    }
    for (size_t k = 0; k < o.events.size(); ++k) {
      const NewEvent& e = o.events[k];
      // The attempt's start goes in its first event's row (migration 0010).
      if (k == 0 && o.start) {
        ev_started_us.Int(ToMicros(o.start->at));
        ev_started_by.Text(o.start->owner);
      } else {
        ev_started_us.Null();
        ev_started_by.Null();
      }
      ev_ords.Int(static_cast<int64_t>(i));
      ev_kinds.Text(e.kind);
      ev_steps.Text(e.step);
      ev_attempts.Int(e.attempt);
      ev_data.Text(e.data);
      // An event that differs from the next only in kind (a last step's
      // step_succeeded and run_succeeded) is written with it as one row.
      const NewEvent* next = k + 1 < o.events.size() ? &o.events[k + 1] : nullptr;
      if (next && next->step == e.step && next->attempt == e.attempt && next->data == e.data) {
        ev_also.Text(next->kind);
        ++k;
      } else {
        ev_also.Null();
      }
    }
  }
  const bool return_any = !return_runs.empty();
  const std::vector<pqxx::binarystring> params =
      Binary(ords, run_ids, lease_ids, statuses, step_indexes, step_names, attempts, states,
             results, errors, run_ats, ev_ords, ev_kinds, ev_steps, ev_attempts, ev_data, ev_also,
             ev_started_us, ev_started_by, lease_ms, return_runs);
  std::vector<bool> accepted(outcomes.size(), false);
  std::vector<std::optional<NextAttempt>> next_attempts(recorded ? outcomes.size() : 0);
  std::vector<Run> runs;
  bool wrote = false;  // events for the sequencer
  Status st = dispatch_pool_.With("record outcomes", [&](pqxx::connection& c) -> Status {
    // Without waits the record statement is the whole change (it announces
    // finished runs and ready queues itself); waits add statements under
    // their runs' locks that commit with it.
    auto tx = BeginChange(c, waits.empty());
    std::set<std::string> ready_queues;
    // Waits first: a waiting run is often a parent whose children finish in
    // the same batch, and Cancel locks a parent before its children; the
    // same order here means the two can never deadlock. (A child recorded
    // after its parent's wait wakes the parent through the waker.)
    for (size_t i : waits) {
      accepted[i] = RecordWait(*tx, outcomes[i], &ready_queues);
      wrote = wrote || accepted[i];
    }
    pqxx::result res;
    if (row_count > 0) {
      // The plain statement has no $21 (the ords whose runs come back).
      auto exec = [&](const char* stmt, const auto&... more) {
        return tx->exec_prepared(stmt, params[0], params[1], params[2], params[3], params[4],
                                 params[5], params[6], params[7], params[8], params[9], params[10],
                                 params[11], params[12], params[13], params[14], params[15],
                                 params[16], params[17], params[18], params[19], more...);
      };
      res = return_any ? exec(kRecordRunsStmt, params[20]) : exec(kRecordStmt);
      wrote = wrote || !res.empty();
    }
    runs.clear();  // a retry of the transaction starts over
    for (const auto& row : res) {
      const auto i = row[0].as<size_t>();
      accepted[i] = true;
      if (recorded && !row[6].is_null()) {
        next_attempts[i] =
            NextAttempt{Text(row[6]), FromMicros(Int(row[7])), FromMicros(Int(row[8]))};
      }
      if (row.size() > kRecordRunColumn && !row[kRecordRunColumn].is_null()) {
        runs.push_back(RunFromRow(row, kRecordRunColumn));
      }
    }
    for (const auto& q : ready_queues) {  // queues of runs the waits woke at once
      tx->exec_params("SELECT pg_notify($1, $2)", kReadyChannel, q);
    }
    tx->commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (wrote) EventsWritten();
  if (recorded) {
    recorded->next = std::move(next_attempts);
    recorded->runs = std::move(runs);
  }
  return accepted;
}

StatusOr<std::vector<ClaimedRun>> PgRunStore::ExpiredLeases(const std::vector<std::string>& types,
                                                            int limit) {
  std::vector<ClaimedRun> out;
  Status st = pool_.With("expired leases", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res =
        tx.exec_params("SELECT " + Cols() + ", " + kLeaseColumns +
                           " FROM cueball_runs "
                           "WHERE status = 'running' AND lease_expires_at < now() "
                           "AND workflow_type = ANY($1::text[]) ORDER BY lease_expires_at LIMIT $2",
                       PgTextArray(types), limit);
    for (const auto& row : res) out.push_back(ClaimedFromRow(row));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<int64_t> PgRunStore::CountEnqueued() {
  int64_t n = 0;
  Status st = pool_.With("count enqueued", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    // Served by the partial index of enqueued runs.
    n = tx.exec("SELECT count(*) FROM cueball_runs WHERE status = 'enqueued'")[0][0].as<int64_t>();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

StatusOr<RowVersions> PgRunStore::RunRowVersions() {
  RowVersions v;
  Status st = pool_.With("run row versions", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    // As VACUUM checks it: the table's owner or the database's (or a role
    // with their privileges, or a superuser).
    auto res = tx.exec(
        "SELECT s.n_live_tup, s.n_dead_tup, "
        "       pg_has_role(c.relowner, 'USAGE') OR pg_has_role(d.datdba, 'USAGE') "
        "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
        "JOIN pg_database d ON d.datname = current_database() "
        "WHERE s.relid = 'cueball_runs'::regclass");
    if (!res.empty()) {
      v.live = res[0][0].as<int64_t>();
      v.dead = res[0][1].as<int64_t>();
      v.may_vacuum = res[0][2].as<bool>();
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return v;
}

StatusOr<bool> PgRunStore::VacuumRuns() {
  bool vacuumed = false;
  Status st = pool_.With("vacuum runs", [&](pqxx::connection& c) -> Status {
    // VACUUM runs outside any transaction. The statement timeout is for
    // requests, not for a vacuum of a large table; a vacuum that cannot
    // have the table's lock at once (another one holds it) is skipped. One
    // process, not parallel workers for the indexes: the vacuum runs while
    // runs trickle in, and must leave the other cores to them.
    pqxx::nontransaction tx(c);
    tx.exec("SET statement_timeout = 0; SET lock_timeout = '10ms'");
    std::exception_ptr failed;
    try {
      tx.exec("VACUUM (PARALLEL 0) cueball_runs");
      vacuumed = true;
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != "55P03") failed = std::current_exception();  // 55P03: skipped
    }
    // The connection goes back to the pool as it came (one that broke is dropped).
    tx.exec("RESET statement_timeout; RESET lock_timeout");
    if (failed) std::rethrow_exception(failed);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return vacuumed;
}

StatusOr<std::vector<QueueStats>> PgRunStore::GetQueueStats() {
  std::vector<QueueStats> out;
  Status st = pool_.With("queue stats", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    // Served by the partial index of enqueued runs.
    for (const auto& row : tx.exec(
             "SELECT queue, count(*) FILTER (WHERE run_at <= now()),"
             " count(*) FILTER (WHERE run_at > now()),"
             " COALESCE(EXTRACT(EPOCH FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)"
             " FROM cueball_runs WHERE status = 'enqueued' GROUP BY queue ORDER BY queue")) {
      out.push_back({row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<int64_t>(),
                     row[3].as<double>()});
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<std::vector<UnfinishedCount>> PgRunStore::CountUnfinished() {
  std::vector<UnfinishedCount> out;
  Status st = pool_.With("count unfinished runs", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    for (const auto& row :
         tx.exec("SELECT workflow_type, queue, count(*) FROM cueball_runs"
                 " WHERE status IN ('enqueued', 'running', 'waiting')"
                 " GROUP BY workflow_type, queue ORDER BY workflow_type, queue")) {
      out.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<int64_t>()});
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace cueball::store::pg
