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
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {
namespace {

// The record and enqueue statements notify these channels by name.
static_assert(std::string_view(kReadyChannel) == "cueball_ready" &&
                  std::string_view(kFinishedChannel) == "cueball_finished",
              "sql/record.sql and sql/enqueue.sql name the notification channels");

// Why a conditional update matched nothing: NOT_FOUND, or the run's status.
StatusOr<std::string> CurrentStatus(pqxx::transaction_base& tx, const std::string& id) {
  auto cur = Exec(tx, sql::kRunStatus, id);
  if (cur.empty()) return NotFound("id: no run with id " + id);
  return Text(Field(cur, 0, "status"));
}

// The parameters of sql/fragments/list_filters.sql ($1..$9) and the
// statuses ($10), for List, Count and the bulk batches.
struct FilterParams {
  std::optional<std::string> type, queue, before_id, other_tags, key, tag_key, tag_value;
  std::optional<int64_t> after, before;
  std::string statuses;

  explicit FilterParams(const RunFilter& f)
      : type(f.workflow_type), queue(f.queue), before_id(f.before_id), key(f.idempotency_key) {
    if (f.created_after) after = ToMicros(*f.created_after);
    if (f.created_before) before = ToMicros(*f.created_before);
    if (!f.tags.empty()) {
      // The first tag drives the search (list_filters.sql); the others are checked.
      tag_key = f.tags.begin()->first;
      tag_value = f.tags.begin()->second;
      other_tags = TagsJson({std::next(f.tags.begin()), f.tags.end()});
    }
    std::vector<std::string> names;
    for (RunStatus st : f.statuses) names.emplace_back(RunStatusName(st));
    statuses = PgTextArray(names);
  }
};

}  // namespace

void InsertEvent(pqxx::transaction_base& tx, const std::string& run_id, const std::string& kind,
                 const std::string& step, int attempt, const std::string& data,
                 const std::optional<AttemptStart>& start) {
  std::optional<int64_t> start_us;
  std::optional<std::string> start_by;
  if (start) start_us = ToMicros(start->at), start_by = start->owner;
  Exec(tx, sql::kInsertEvent, run_id, kind, step, attempt, data, start_us, start_by);
}

pqxx::result LockLeasedRun(pqxx::transaction_base& tx, const std::string& run_id,
                           const std::string& lease_id) {
  return Exec(tx, sql::kLockLeasedRun, run_id, lease_id);
}

void CancelDescendants(pqxx::transaction_base& tx, const std::vector<std::string>& parents,
                       const std::string& reason) {
  auto children = Exec(tx, sql::kCancelDescendants, PgTextArray(parents), reason);
  for (const std::string& child : ReadTexts(children, "id")) {
    Exec(tx, sql::kNotify, kFinishedChannel, child);
  }
}

std::optional<std::string> TagsJson(const std::map<std::string, std::string>& tags) {
  if (tags.empty()) return std::nullopt;
  return nlohmann::json(tags).dump();
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
              Prepare(c, sql::kEnqueue);
              Prepare(c, sql::kHasWaiters);
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
                       Prepare(c, sql::kClaim);
                       Prepare(c, sql::kRecord);
                       Prepare(c, sql::kRecordRuns);
                     }) {}

StatusOr<std::vector<EnqueueResult>> PgRunStore::Enqueue(const std::vector<NewRun>& runs) {
  std::vector<EnqueueResult> out;
  bool wrote = false;  // events for the sequencer
  const bool has_keys = std::any_of(runs.begin(), runs.end(),
                                    [](const NewRun& r) { return r.idempotency_key.has_value(); });
  const bool has_parents = std::any_of(runs.begin(), runs.end(),
                                       [](const NewRun& r) { return r.parent_id.has_value(); });
  Status st = pool_.With("enqueue", [&](pqxx::connection& c) -> Status {
    // Without keys or parents the insert is the whole change. With them, a
    // refused key or a parent's child_enqueued event follows the insert, and
    // the two commit together (or not at all).
    auto tx = BeginChange(c, !has_keys && !has_parents);
    auto res = EnqueueIn(*tx, runs, &wrote);
    if (!res.ok()) return res.status();
    out = std::move(res).value();
    tx->commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (wrote) EventsWritten();
  return out;
}

StatusOr<std::vector<EnqueueResult>> PgRunStore::EnqueueIn(pqxx::transaction_base& tx,
                                                           const std::vector<NewRun>& runs,
                                                           bool* wrote) {
  // One typed array per column (PgArrayWriter), as the statement unnests them.
  PgArrayWriter ords(PgElem::kInt4), ids(PgElem::kUuid), types(PgElem::kText), steps(PgElem::kText),
      queues(PgElem::kText), priorities(PgElem::kInt4), inputs(PgElem::kText),
      idempotency_keys(PgElem::kText), run_ats(PgElem::kInt8), parents(PgElem::kUuid),
      tags(PgElem::kText), deadlines(PgElem::kInt8), deadline_actions(PgElem::kText);
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
    tags.TextOrNull(TagsJson(r.tags));
    deadlines.IntOrNull(r.deadline ? std::optional<int64_t>(ToMicros(*r.deadline)) : std::nullopt);
    deadline_actions.TextOrNull(r.deadline ? std::optional<std::string>(r.deadline_action)
                                           : std::nullopt);
  }
  const std::vector<pqxx::binarystring> params =
      Binary(ords, ids, types, steps, queues, priorities, inputs, idempotency_keys, run_ats,
             parents, tags, deadlines, deadline_actions);
  std::vector<EnqueueResult> out;
  // The new rows come back from the insert itself. Runs whose key exists
  // already were skipped: read those (a fresh statement under READ
  // COMMITTED sees keys committed concurrently).
  auto res = ExecPrepared(tx, sql::kEnqueue, params[0], params[1], params[2], params[3], params[4],
                          params[5], params[6], params[7], params[8], params[9], params[10],
                          params[11], params[12]);
  *wrote = *wrote || !res.empty();
  std::map<std::string, Run> by_id;
  std::map<std::string, const Run*> by_key;
  for (Run& run : ReadRuns(res)) {
    std::string id = run.id;
    by_id.emplace(id, std::move(run));
  }
  if (by_id.size() < runs.size() && !keys.empty()) {
    for (Run& run : ReadRuns(Exec(tx, sql::kRunsByIdempotencyKey, PgTextArray(keys)))) {
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
  if (!children.empty()) Exec(tx, sql::kChildEnqueuedEvents, PgTextArray(children));
  return out;
}

StatusOr<Run> PgRunStore::Get(const std::string& id, bool with_history) {
  Run run;
  Status st = pool_.With("get", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    std::vector<Run> found = ReadRuns(Exec(tx, sql::kGetRun, id));
    if (found.empty()) {
      std::vector<Run> summary = ReadRuns(Exec(tx, sql::kGetRunSummary, id), /*pruned=*/true);
      if (summary.empty()) return NotFound("id: no run with id " + id);
      run = std::move(summary.front());
      return Status::Ok();
    }
    run = std::move(found.front());
    run.children = ReadChildren(Exec(tx, sql::kGetRunChildren, id));
    if (with_history) {
      run.history = ReadHistory(Exec(tx, sql::kGetRunHistory, id), id, run.workflow_type);
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
    runs = ReadRuns(Exec(tx, sql::kGetRuns, PgTextArray(ids)));
    if (runs.size() < ids.size()) {
      // Runs removed by retention answer with their summary.
      for (Run& r : ReadRuns(Exec(tx, sql::kGetRunSummaries, PgTextArray(ids)), true)) {
        runs.push_back(std::move(r));
      }
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return runs;
}

StatusOr<std::vector<Run>> PgRunStore::List(const RunFilter& f) {
  std::vector<Run> runs;
  // Without a type or status, the primary key newest first; else a branch
  // per status (sql/list_runs_by_status.sql says why).
  const bool by_status = f.workflow_type || !f.statuses.empty();
  const FilterParams p(f);
  auto wanted = [&](RunStatus s) {
    return f.statuses.empty() ||
           std::find(f.statuses.begin(), f.statuses.end(), s) != f.statuses.end();
  };
  Status st = pool_.With("list", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    runs = ReadRuns(by_status
                        ? Exec(tx, sql::kListRunsByStatus, p.type, p.queue, p.after, p.before,
                               p.before_id, p.other_tags, p.key, p.tag_key, p.tag_value, f.limit,
                               wanted(RunStatus::kEnqueued), wanted(RunStatus::kRunning),
                               wanted(RunStatus::kWaiting), wanted(RunStatus::kSucceeded),
                               wanted(RunStatus::kFailed), wanted(RunStatus::kCanceled))
                        : Exec(tx, sql::kListRuns, p.type, p.queue, p.after, p.before, p.before_id,
                               p.other_tags, p.key, p.tag_key, p.tag_value, f.limit));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return runs;
}

StatusOr<Run> PgRunStore::Cancel(const std::string& id, const std::string& reason) {
  Run run;
  Status st = pool_.With("cancel", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    std::vector<Run> res = ReadRuns(Exec(tx, sql::kCancelRun, id, reason));
    if (res.empty()) {
      auto cur = CurrentStatus(tx, id);
      if (!cur.ok()) return cur.status();
      return FailedPrecondition("id: run " + id + " already finished with status " + *cur);
    }
    run = std::move(res.front());
    Exec(tx, sql::kNotify, kFinishedChannel, id);
    CancelDescendants(tx, {id}, reason);
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  EventsWritten();
  return run;
}

StatusOr<Run> PgRunStore::Retry(const std::string& id, const std::string& reason) {
  Run run;
  Status st = pool_.With("retry", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    std::vector<Run> res = ReadRuns(Exec(tx, sql::kRetryRun, id, reason));
    if (res.empty()) {
      auto cur = CurrentStatus(tx, id);
      if (!cur.ok()) return cur.status();
      return FailedPrecondition("id: run " + id + " is " + *cur +
                                "; only failed runs can be retried");
    }
    run = std::move(res.front());
    Exec(tx, sql::kNotify, kReadyChannel, run.queue);
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  EventsWritten();
  return run;
}

namespace {

// A bulk batch's rows (sql/cancel_runs.sql, retry_runs.sql).
BulkBatch ReadBatch(const pqxx::result& res, int limit) {
  BulkBatch batch;
  if (res.empty()) return batch;
  const pqxx::row first = res[0];
  if (Int(Field(res, 0, "scanned")) >= limit && !first["cursor"].is_null()) {
    batch.next_before_id = Text(first["cursor"]);
  }
  if (first["id"].is_null()) return batch;
  batch.changed = ReadRuns(res);
  return batch;
}

}  // namespace

StatusOr<int64_t> PgRunStore::Count(const RunFilter& f) {
  const FilterParams p(f);
  int64_t n = 0;
  Status st = pool_.With("count runs", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    n = Int(Field(
        Exec(tx, sql::kCountRuns, p.type, p.queue, p.after, p.before, std::optional<std::string>(),
             p.other_tags, p.key, p.tag_key, p.tag_value, p.statuses),
        0, "n"));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

StatusOr<BulkBatch> PgRunStore::Batch(const char* what, const sql::Statement& statement,
                                      const RunFilter& f, const std::string& reason,
                                      bool cancel_descendants) {
  const FilterParams p(f);
  BulkBatch batch;
  Status st = pool_.With(what, [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    batch =
        ReadBatch(Exec(tx, statement, p.type, p.queue, p.after, p.before, p.before_id, p.other_tags,
                       p.key, p.tag_key, p.tag_value, p.statuses, f.limit, reason),
                  f.limit);
    if (cancel_descendants && !batch.changed.empty()) {
      std::vector<std::string> ids;
      for (const Run& r : batch.changed) ids.push_back(r.id);
      CancelDescendants(tx, ids, reason);
    }
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (!batch.changed.empty()) EventsWritten();
  return batch;
}

StatusOr<BulkBatch> PgRunStore::CancelBatch(const RunFilter& f, const std::string& reason) {
  return Batch("cancel runs", sql::kCancelRuns, f, reason, /*cancel_descendants=*/true);
}

StatusOr<BulkBatch> PgRunStore::RetryBatch(const RunFilter& f, const std::string& reason) {
  return Batch("retry runs", sql::kRetryRuns, f, reason, /*cancel_descendants=*/false);
}

StatusOr<int64_t> PgRunStore::CountEnqueued() {
  int64_t n = 0;
  Status st = pool_.With("count enqueued", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    n = Int(Field(Exec(tx, sql::kCountEnqueued), 0, "n"));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

}  // namespace cueball::store::pg
