// PgRunStore as the DispatchStore: claims, outcomes and their events,
// attempts' starts, and leases (heartbeats). The claim and the record run
// for every batch of runs, on dispatch_pool_'s connections, prepared there.
#include <algorithm>
#include <set>
#include <string_view>

#include "server/store/postgres/pg_array.h"
#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {

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
    auto res = Exec(tx, sql::kExtendLeases, PgTextArray(run_ids), PgTextArray(lease_ids),
                    static_cast<int64_t>(lease.count()));
    tx.commit();
    lost = ReadTexts(res, "id");
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return lost;
}

Status PgRunStore::RecordStarts(const std::vector<AttemptRef>& attempts) {
  if (attempts.empty()) return Status::Ok();
  std::vector<std::string> run_ids, lease_ids;
  for (const auto& a : attempts) {
    run_ids.push_back(a.run_id);
    lease_ids.push_back(a.lease_id);
  }
  int64_t written = 0;
  Status st = pool_.With("record starts", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    written = Int(Field(Exec(tx, sql::kRecordStarts, PgTextArray(run_ids), PgTextArray(lease_ids)),
                        0, "written"));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (written > 0) EventsWritten();
  return Status::Ok();
}

void PgRunStore::ClaimFrom(pqxx::connection& c, const std::string& owner,
                           const std::vector<std::string>& queues, const std::string& queue_array,
                           const std::string& type_array, const std::string& step_array,
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
  auto res = ExecPrepared(tx, sql::kClaim, owner, queue_array, type_array, limit,
                          static_cast<int64_t>(lease.count()), priorities, run_ats,
                          PgTextArray(ids), step_array);
  next_due->reset();
  if (res.empty()) return;
  const ClaimedReader reader(res);
  const int next_ms = Columns(res).Need("next_ms");
  for (const auto& row : res) {
    if (!row[next_ms].is_null()) *next_due = Millis(Int(row[next_ms]));
    if (reader.Has(row)) out->push_back(reader.Read(row));  // none: nothing claimed
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
  constexpr size_t kMostScopes = 256;  // more: the keys start over (each is only a shortcut)
  // Whole types, and single steps ("type/step": the remote steps of a mixed
  // type, or a mixed type's own steps), each in an array of its own.
  std::vector<std::string> whole, steps;
  for (const auto& t : types) (t.find('/') == std::string::npos ? whole : steps).push_back(t);
  // A key only holds for the types it was claimed for: runs of other types
  // before it were never looked at.
  const std::string queue_array = PgTextArray(queues), type_array = PgTextArray(whole),
                    step_array = PgTextArray(steps);
  const std::string scope = queue_array + type_array + step_array;
  std::map<std::string, ClaimKey> from;
  {
    std::lock_guard<std::mutex> lock(claim_mu_);
    if (claim_scopes_.size() >= kMostScopes && !claim_scopes_.count(scope)) claim_scopes_.clear();
    ClaimScope& sc = claim_scopes_[scope];
    if (std::chrono::steady_clock::now() - sc.last_scan_from_start >= kScanFromStartEvery) {
      sc.from.clear();
    }
    from = sc.from;
  }
  std::vector<ClaimedRun> out;
  std::optional<Millis> next;  // from the last statement, which decides
  size_t from_start = 0;       // where the runs of the scan from the start begin
  bool scanned_from_start = false;
  Status st = dispatch_pool_.With("claim", [&](pqxx::connection& c) -> Status {
    out.clear();
    if (!from.empty()) {
      ClaimFrom(c, owner, queues, queue_array, type_array, step_array, from, limit, lease, &out,
                &next);
      if (static_cast<int>(out.size()) == limit) return Status::Ok();
    }
    from_start = out.size();
    scanned_from_start = true;
    try {
      ClaimFrom(c, owner, queues, queue_array, type_array, step_array, {},
                limit - static_cast<int>(out.size()), lease, &out, &next);
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
    auto it = claim_scopes_.find(scope);  // gone if the scopes started over meanwhile
    if (it != claim_scopes_.end()) {
      ClaimScope& sc = it->second;
      if (scanned_from_start) {
        sc.last_scan_from_start = std::chrono::steady_clock::now();
        sc.from.clear();
      }
      if (static_cast<int>(out.size()) < limit) {
        sc.from.clear();  // nothing more is ready: the next claim starts from the start
      } else {
        // Each queue's last key: the runs of one statement are a prefix of
        // each queue's order, returned in (priority, run_at, id) order, so
        // its last run is its key (walked back to, not set once per run).
        std::set<std::string_view> keyed;
        for (size_t i = out.size(); i > from_start && keyed.size() < queues.size(); --i) {
          const Run& r = out[i - 1].run;
          if (keyed.insert(r.queue).second) {
            sc.from[r.queue] = ClaimKey{r.priority, ToMicros(r.run_at), r.id};
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
      res = return_any ? exec(sql::kRecordRuns.name, params[20]) : exec(sql::kRecord.name);
      wrote = wrote || !res.empty();
    }
    runs.clear();  // a retry of the transaction starts over
    if (!res.empty()) {
      const Columns cols(res);
      const int ord = cols.Need("rec_ord"), lease = cols.Need("rec_next_lease"),
                expires = cols.Need("rec_next_lease_expires_us"),
                claimed = cols.Need("rec_next_claimed_us");
      const std::optional<RunReader> run_reader =
          return_any ? std::optional<RunReader>(RunReader(res)) : std::nullopt;
      for (const auto& row : res) {
        const auto i = static_cast<size_t>(Int(row[ord]));
        accepted[i] = true;
        if (recorded && !row[lease].is_null()) {
          next_attempts[i] = NextAttempt{Text(row[lease]), FromMicros(Int(row[expires])),
                                         FromMicros(Int(row[claimed]))};
        }
        if (run_reader && run_reader->Has(row)) runs.push_back(run_reader->Read(row));
      }
    }
    for (const auto& q : ready_queues) {  // queues of runs the waits woke at once
      Exec(*tx, sql::kNotify, kReadyChannel, q);
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

}  // namespace cueball::store::pg
