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
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {
namespace {

using json = nlohmann::json;

std::optional<StoredSignal> FirstSignal(const pqxx::result& res) {
  if (res.empty()) return std::nullopt;
  return ReadSignal(res, 0);
}

}  // namespace

bool PgRunStore::RecordWait(pqxx::transaction_base& tx, const Outcome& o,
                            std::set<std::string>* ready_queues) {
  auto locked = LockLeasedRun(tx, o.run_id, o.lease_id);
  if (locked.empty()) return false;
  // The attempt's start, unless written while it ran, goes with its first
  // event (migration 0010).
  std::optional<AttemptStart> start;
  if (locked[0][Columns(locked).Need("start_unwritten")].as<bool>()) start = o.start;
  const WaitSpec& w = *o.wait;
  json spec = {{"for", w.kind}, {"step", o.step_name}};
  std::optional<std::string> woke;
  if (w.kind == "signal") {
    spec["signal"] = w.signal;
    // A signal that arrived after the step looked (or before it ever asked)
    // ends the wait at once: it is bound to this step now.
    if (!Exec(tx, sql::kBindOldestSignal, o.run_id, w.signal, o.step_index).empty()) {
      woke = "signal";
    }
  } else if (w.kind == "runs") {
    spec["runs"] = w.runs;
    spec["any"] = w.any;
    Exec(tx, sql::kAddRunWaits, o.run_id, PgTextArray(w.runs));
    auto done = Exec(tx, sql::kRunsDone, PgTextArray(w.runs));
    const Columns cols(done);
    const int64_t finished = Int(done[0][cols.Need("finished")]),
                  total = Int(done[0][cols.Need("total")]);
    if (w.any ? finished > 0 : finished == total) woke = "runs";
  } else {
    spec["result"] = json::parse(w.result);
  }
  if (w.deadline) spec["deadline"] = FormatTime(*w.deadline);
  std::optional<int64_t> deadline_us;
  if (w.deadline) deadline_us = ToMicros(*w.deadline);
  auto res = Exec(tx, sql::kSuspendRun, o.run_id, o.step_index, o.step_name, o.attempt, o.state,
                  spec.dump(), deadline_us, woke);
  const Columns cols(res);
  const int woke_col = cols.Need("woke"), queue_col = cols.Need("queue");
  for (const auto& e : o.events) {
    InsertEvent(tx, o.run_id, e.kind, e.step, e.attempt, e.data, start);
    start.reset();
  }
  if (!res[0][woke_col].is_null()) {
    const std::string how = Text(res[0][woke_col]);
    InsertEvent(tx, o.run_id, event_kind::kRunWoken, o.step_name, o.attempt,
                json({{"woke", how}}).dump());
    Exec(tx, sql::kDeleteRunWaits, o.run_id);
    ready_queues->insert(Text(res[0][queue_col]));
  }
  return true;
}

StatusOr<SignalResult> PgRunStore::Signal(const std::string& run_id, const std::string& name,
                                          const std::string& payload,
                                          const std::optional<std::string>& idempotency_key) {
  SignalResult out;
  Status st = pool_.With("signal", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto cur = Exec(tx, sql::kLockRunForSignal, run_id);
    if (cur.empty()) {
      auto pruned = Exec(tx, sql::kSummaryStatus, run_id);
      if (pruned.empty()) return NotFound("run_id: no run with id " + run_id);
      return FailedPrecondition("run_id: run " + run_id + " already finished with status " +
                                Text(Field(pruned, 0, "status")) +
                                "; signals go to unfinished runs");
    }
    const Columns cols(cur);
    const pqxx::row row = cur[0];
    const std::string status = Text(row[cols.Need("status")]);
    if (auto s = ParseRunStatus(status); s && IsTerminal(*s)) {
      return FailedPrecondition("run_id: run " + run_id + " already finished with status " +
                                status + "; signals go to unfinished runs");
    }
    const int step_index = static_cast<int>(Int(row[cols.Need("step_index")]));
    const std::string step_name = Text(row[cols.Need("step_name")]);
    const int attempt = static_cast<int>(Int(row[cols.Need("attempt")]));
    const std::optional<std::string> wait_text = OptText(row[cols.Need("wait")]);
    const std::string queue = Text(row[cols.Need("queue")]);
    auto ins = Exec(tx, sql::kInsertSignal, run_id, name, payload, idempotency_key);
    if (ins.empty()) {
      auto first = Exec(tx, sql::kSignalByKey, run_id, idempotency_key);
      const Columns first_cols(first);
      const std::string first_name = Text(first[0][first_cols.Need("name")]);
      if (first_name != name) {
        return AlreadyExists("idempotency_key: '" + *idempotency_key +
                             "' was already used for signal '" + first_name + "' of run " + run_id);
      }
      out.seq = Int(first[0][first_cols.Need("seq")]);
      out.duplicate = true;
    } else {
      out.seq = Int(Field(ins, 0, "seq"));
      json data = {{"signal", name}, {"seq", out.seq}, {"payload", json::parse(payload)}};
      if (idempotency_key) data["idempotency_key"] = *idempotency_key;
      InsertEvent(tx, run_id, event_kind::kSignalReceived, step_name, attempt, data.dump());
      json wait = wait_text ? json::parse(*wait_text) : json();
      if (status == "waiting" && wait.value("for", "") == "signal" &&
          wait.value("signal", "") == name) {
        Exec(tx, sql::kBindOldestSignal, run_id, name, step_index);
        Exec(tx, sql::kWakeForSignal, run_id);
        InsertEvent(tx, run_id, event_kind::kRunWoken, step_name, attempt,
                    json({{"woke", "signal"}, {"signal", name}, {"seq", out.seq}}).dump());
        Exec(tx, sql::kNotify, kReadyChannel, queue);
        out.resumed = true;
      }
    }
    auto run = Exec(tx, sql::kGetRun, run_id);
    out.run = RunReader(run).Read(run[0]);
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
    out = FirstSignal(Exec(tx, sql::kBoundSignal, run_id, name, step_index));
    if (!out) out = FirstSignal(Exec(tx, sql::kBindOldestSignal, run_id, name, step_index));
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
    any = Field(ExecPrepared(tx, sql::kHasWaiters, PgTextArray(run_ids)), 0, "any").as<bool>();
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
    auto res = Exec(tx, sql::kWakeDue, ids, limit);
    std::set<std::string> queues;
    if (!res.empty()) {
      const Columns cols(res);
      const int id = cols.Need("id"), queue = cols.Need("queue");
      for (const auto& row : res) {
        out.run_ids.push_back(Text(row[id]));
        queues.insert(Text(row[queue]));
      }
    }
    for (const auto& q : queues) Exec(tx, sql::kNotify, kReadyChannel, q);
    auto next = Exec(tx, sql::kNextWaitDue);
    const pqxx::field ms = Field(next, 0, "ms");
    if (!ms.is_null()) out.next_due = Millis(std::max<int64_t>(0, Int(ms)));
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
