// PgRunStore: runs that wait (signals, durable timers, other runs).
//
// Every change to a waiting run takes the run's row lock first and only then
// looks at signals or other runs, in a statement of its own (a fresh
// snapshot). The step that suspends the run and the Signal call that wakes it
// are therefore ordered by that lock: whichever comes second sees the other,
// so a signal arriving while its step is being recorded is never missed.
// A wait on runs can still race with a run finishing (their transactions lock
// different rows); both sides then poke a waker after commit, whose pass sees
// both, and every daemon's waker also sweeps all such waits once a second.
#include <nlohmann/json.hpp>

#include "server/store/postgres/pg_event_store.h"
#include "server/store/postgres/pg_run_store.h"

namespace cueball::store::pg {
namespace {

using json = nlohmann::json;

// Binds the oldest signal `name` not yet bound to step `step_index`.
constexpr const char* kBindOldestSql = R"SQL(
UPDATE cueball_signals SET step_index = $3, bound_at = now()
WHERE seq = (SELECT seq FROM cueball_signals
             WHERE run_id = $1::uuid AND name = $2 AND step_index IS NULL
             ORDER BY seq LIMIT 1)
RETURNING seq, name, payload::text, round(date_part('epoch', created_at) * 1000000)::bigint
)SQL";

// How many of the runs a waiting run waits on have finished (a run removed
// by retention has finished; an id that names no run counts as finished, so
// a wait can never hang on it), and how many there are.
constexpr const char* kRunsDoneSql = R"SQL(
SELECT count(*) FILTER (WHERE r.finished_at IS NOT NULL OR r.id IS NULL), count(*)
FROM unnest($1::uuid[]) AS t(id)
LEFT JOIN cueball_runs r ON r.id = t.id
)SQL";

// Suspends a run (locked and fenced by the caller), or sends it straight
// back to the queue when its wait is already over ($8: how it woke, or a
// deadline already due).
constexpr const char* kSuspendSql = R"SQL(
WITH v AS (
  SELECT CASE WHEN $8::text IS NOT NULL THEN $8::text
              WHEN $7::bigint IS NOT NULL
                   AND timestamptz 'epoch' + $7 * interval '1 microsecond' <= now()
                THEN CASE WHEN $6::jsonb->>'for' = 'timer' THEN 'timer' ELSE 'timeout' END
         END AS woke
)
UPDATE cueball_runs r
SET status = CASE WHEN v.woke IS NULL THEN 'waiting' ELSE 'enqueued' END,
    step_index = $2, step_name = $3, attempt = $4, state = coalesce($5::jsonb, r.state),
    wait = CASE WHEN v.woke IS NULL THEN $6::jsonb
                ELSE $6::jsonb || jsonb_build_object('woke', v.woke) END,
    run_at = CASE WHEN v.woke IS NOT NULL THEN now()
                  WHEN $7::bigint IS NULL THEN '9999-12-31 00:00:00+00'::timestamptz
                  ELSE timestamptz 'epoch' + $7 * interval '1 microsecond' END,
    lease_id = NULL, lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
FROM v
WHERE r.id = $1::uuid
RETURNING v.woke, r.queue
)SQL";

// One pass of the waker: waits on runs that are over (only the waiters of
// $1 when given) and deadlines that have passed (timers, timeouts), each
// locked with SKIP LOCKED so wakers on many daemons share the work.
constexpr const char* kWakeSql = R"SQL(
WITH runs_over AS (
  SELECT r.id FROM cueball_runs r
  WHERE r.status = 'waiting' AND r.wait->>'for' = 'runs'
    AND ($1::uuid[] IS NULL
         OR r.id IN (SELECT waiter_id FROM cueball_run_waits WHERE target_id = ANY($1::uuid[])))
    AND (SELECT CASE WHEN (r.wait->>'any')::boolean THEN count(*) FILTER (WHERE d.done) > 0
                     ELSE bool_and(d.done) END
         FROM (SELECT t.id IS NULL OR t.finished_at IS NOT NULL AS done
               FROM jsonb_array_elements_text(r.wait->'runs') AS w(id)
               LEFT JOIN cueball_runs t ON t.id = w.id::uuid) d)
  LIMIT $2
  FOR UPDATE OF r SKIP LOCKED
), due AS (
  SELECT r.id, CASE WHEN r.wait->>'for' = 'timer' THEN 'timer' ELSE 'timeout' END AS how
  FROM cueball_runs r
  WHERE r.status = 'waiting' AND r.run_at <= now() AND r.id NOT IN (SELECT id FROM runs_over)
  ORDER BY r.run_at
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), woke AS (
  SELECT id, 'runs' AS how FROM runs_over
  UNION ALL
  SELECT id, how FROM due
), upd AS (
  UPDATE cueball_runs r
  SET status = 'enqueued', run_at = now(), updated_at = now(),
      wait = r.wait || jsonb_build_object('woke', woke.how)
  FROM woke WHERE r.id = woke.id
  RETURNING r.id, r.queue, r.step_name, r.attempt, woke.how
), %EVENTS%, waits AS (
  DELETE FROM cueball_run_waits w USING upd WHERE w.waiter_id = upd.id
)
SELECT id::text, queue FROM upd
)SQL";
constexpr const char* kWakeEvents = R"SQL(
  SELECT id AS run_id, 'run_woken' AS kind, step_name AS step, attempt,
         jsonb_build_object('woke', how) AS data, row_number() OVER (ORDER BY id) AS n
  FROM upd
)SQL";

StoredSignal SignalFromRow(const pqxx::row& row) {
  StoredSignal s;
  s.seq = row[0].as<int64_t>();
  s.name = row[1].as<std::string>();
  s.payload = row[2].as<std::string>();
  s.created_at = FromMicros(row[3].as<int64_t>());
  return s;
}

}  // namespace

bool PgRunStore::RecordWait(pqxx::transaction_base& tx, const Outcome& o,
                            std::set<std::string>* ready_queues) {
  auto locked = LockLeasedRun(tx, o.run_id, o.lease_id);
  if (locked.empty()) return false;
  // The attempt's start, unless written while it ran, goes with its first
  // event (migration 0010).
  std::optional<AttemptStart> start;
  if (locked[0][2].as<bool>()) start = o.start;
  const WaitSpec& w = *o.wait;
  json spec = {{"for", w.kind}, {"step", o.step_name}};
  std::optional<std::string> woke;
  if (w.kind == "signal") {
    spec["signal"] = w.signal;
    // A signal that arrived after the step looked (or before it ever asked)
    // ends the wait at once: it is bound to this step now.
    if (!tx.exec_params(kBindOldestSql, o.run_id, w.signal, o.step_index).empty()) {
      woke = "signal";
    }
  } else if (w.kind == "runs") {
    spec["runs"] = w.runs;
    spec["any"] = w.any;
    tx.exec_params(
        "INSERT INTO cueball_run_waits (waiter_id, target_id) "
        "SELECT $1::uuid, t FROM unnest($2::uuid[]) AS t ON CONFLICT DO NOTHING",
        o.run_id, PgTextArray(w.runs));
    auto done = tx.exec_params(kRunsDoneSql, PgTextArray(w.runs));
    const int64_t finished = done[0][0].as<int64_t>(), total = done[0][1].as<int64_t>();
    if (w.any ? finished > 0 : finished == total) woke = "runs";
  } else {
    spec["result"] = json::parse(w.result);
  }
  if (w.deadline) spec["deadline"] = FormatTime(*w.deadline);
  std::optional<int64_t> deadline_us;
  if (w.deadline) deadline_us = ToMicros(*w.deadline);
  auto res = tx.exec_params(kSuspendSql, o.run_id, o.step_index, o.step_name, o.attempt, o.state,
                            spec.dump(), deadline_us, woke);
  for (const auto& e : o.events) {
    InsertEvent(tx, o.run_id, e.kind, e.step, e.attempt, e.data, start);
    start.reset();
  }
  if (!res[0][0].is_null()) {
    const std::string how = res[0][0].as<std::string>();
    InsertEvent(tx, o.run_id, event_kind::kRunWoken, o.step_name, o.attempt,
                json({{"woke", how}}).dump());
    tx.exec_params("DELETE FROM cueball_run_waits WHERE waiter_id = $1::uuid", o.run_id);
    ready_queues->insert(res[0][1].as<std::string>());
  }
  return true;
}

StatusOr<SignalResult> PgRunStore::Signal(const std::string& run_id, const std::string& name,
                                          const std::string& payload,
                                          const std::optional<std::string>& idempotency_key) {
  SignalResult out;
  Status st = pool_.With("signal", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto cur = tx.exec_params(
        "SELECT status, step_index, step_name, attempt, wait::text, queue FROM cueball_runs "
        "WHERE id = $1::uuid FOR UPDATE",
        run_id);
    if (cur.empty()) {
      auto pruned =
          tx.exec_params("SELECT status FROM cueball_run_summaries WHERE id = $1::uuid", run_id);
      if (pruned.empty()) return NotFound("run_id: no run with id " + run_id);
      return FailedPrecondition("run_id: run " + run_id + " already finished with status " +
                                pruned[0][0].as<std::string>() + "; signals go to unfinished runs");
    }
    const std::string status = cur[0][0].as<std::string>();
    if (auto s = ParseRunStatus(status); s && IsTerminal(*s)) {
      return FailedPrecondition("run_id: run " + run_id + " already finished with status " +
                                status + "; signals go to unfinished runs");
    }
    const int step_index = cur[0][1].as<int>();
    const std::string step_name = cur[0][2].as<std::string>();
    const int attempt = cur[0][3].as<int>();
    auto ins = tx.exec_params(
        "INSERT INTO cueball_signals (run_id, name, payload, idempotency_key) "
        "VALUES ($1::uuid, $2, $3::jsonb, $4) "
        "ON CONFLICT ON CONSTRAINT cueball_signals_key DO NOTHING RETURNING seq",
        run_id, name, payload, idempotency_key);
    if (ins.empty()) {
      auto first = tx.exec_params(
          "SELECT seq, name FROM cueball_signals WHERE run_id = $1::uuid "
          "AND idempotency_key = $2",
          run_id, idempotency_key);
      if (first[0][1].as<std::string>() != name) {
        return AlreadyExists("idempotency_key: '" + *idempotency_key +
                             "' was already used for signal '" + first[0][1].as<std::string>() +
                             "' of run " + run_id);
      }
      out.seq = first[0][0].as<int64_t>();
      out.duplicate = true;
    } else {
      out.seq = ins[0][0].as<int64_t>();
      json data = {{"signal", name}, {"seq", out.seq}, {"payload", json::parse(payload)}};
      if (idempotency_key) data["idempotency_key"] = *idempotency_key;
      InsertEvent(tx, run_id, event_kind::kSignalReceived, step_name, attempt, data.dump());
      json wait = cur[0][4].is_null() ? json() : json::parse(cur[0][4].as<std::string>());
      if (status == "waiting" && wait.value("for", "") == "signal" &&
          wait.value("signal", "") == name) {
        tx.exec_params(kBindOldestSql, run_id, name, step_index);
        tx.exec_params(
            "UPDATE cueball_runs SET status = 'enqueued', run_at = now(), updated_at = now(), "
            "wait = wait || jsonb_build_object('woke', 'signal') WHERE id = $1::uuid",
            run_id);
        InsertEvent(tx, run_id, event_kind::kRunWoken, step_name, attempt,
                    json({{"woke", "signal"}, {"signal", name}, {"seq", out.seq}}).dump());
        tx.exec_params("SELECT pg_notify($1, $2)", kReadyChannel, cur[0][5].as<std::string>());
        out.resumed = true;
      }
    }
    auto row =
        tx.exec_params("SELECT " + Cols() + " FROM cueball_runs WHERE id = $1::uuid", run_id);
    out.run = RunFromRow(row[0]);
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (!out.duplicate) EventsWritten();
  return out;
}

StatusOr<std::optional<StoredSignal>> PgRunStore::TakeSignal(const std::string& run_id,
                                                             const std::string& lease_id,
                                                             int step_index,
                                                             const std::string& name) {
  std::optional<StoredSignal> out;
  Status st = pool_.With("take signal", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    if (LockLeasedRun(tx, run_id, lease_id).empty()) {
      return FailedPrecondition("run " + run_id + ": the lease of this attempt was lost");
    }
    auto bound = tx.exec_params(
        "SELECT seq, name, payload::text, round(date_part('epoch', created_at) * 1000000)::bigint "
        "FROM cueball_signals WHERE run_id = $1::uuid AND name = $2 AND step_index = $3 "
        "ORDER BY seq LIMIT 1",
        run_id, name, step_index);
    if (!bound.empty()) {
      out = SignalFromRow(bound[0]);
    } else {
      auto taken = tx.exec_params(kBindOldestSql, run_id, name, step_index);
      if (!taken.empty()) out = SignalFromRow(taken[0]);
    }
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<bool> PgRunStore::HasWaiters(const std::vector<std::string>& run_ids) {
  bool any = false;
  Status st = pool_.With("has waiters", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    any = tx.exec_prepared(kHasWaitersStmt, PgTextArray(run_ids))[0][0].as<bool>();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return any;
}

StatusOr<WakeResult> PgRunStore::WakeDue(const std::optional<std::vector<std::string>>& finished,
                                         int limit) {
  WakeResult out;
  std::optional<std::string> ids;
  if (finished) ids = PgTextArray(*finished);
  Status st = pool_.With("wake waits", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    static const std::string sql = WithEvents(kWakeSql, kWakeEvents);
    auto res = tx.exec_params(sql, ids, limit);
    std::set<std::string> queues;
    for (const auto& row : res) {
      out.run_ids.push_back(row[0].as<std::string>());
      queues.insert(row[1].as<std::string>());
    }
    for (const auto& q : queues) tx.exec_params("SELECT pg_notify($1, $2)", kReadyChannel, q);
    auto next = tx.exec(
        "SELECT (extract(epoch from (min(run_at) - now())) * 1000)::bigint FROM cueball_runs "
        "WHERE status = 'waiting' AND run_at < '9999-12-31 00:00:00+00'");
    if (!next[0][0].is_null())
      out.next_due = Millis(std::max<int64_t>(0, next[0][0].as<int64_t>()));
    tx.commit();
    out.woken = static_cast<int64_t>(out.run_ids.size());
    out.queues.assign(queues.begin(), queues.end());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (out.woken > 0) EventsWritten();
  return out;
}

}  // namespace cueball::store::pg
