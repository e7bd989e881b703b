// PgRunStore: RunStore on PostgreSQL via libpqxx. Each method is one
// transaction of one or two statements; batches travel as one typed array
// parameter per column (unnest, PgArrayWriter), so a batch of any size costs
// the same round trips.
// Wakeups are NOTIFYs sent in the same transaction as the change:
//   cueball_ready    payload: queue name   (runs became ready)
//   cueball_finished payload: run id       (a run reached a terminal state)
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <string>

#include "server/store/blob_store.h"
#include "server/store/dispatch_store.h"
#include "server/store/postgres/pg_pool.h"
#include "server/store/run_store.h"
#include "server/store/schedule_store.h"
#include "server/store/upkeep_store.h"
#include "server/store/wait_store.h"

namespace cueball::store::pg {

namespace sql {
struct Statement;  // statements.h (generated)
}

inline constexpr const char* kReadyChannel = "cueball_ready";
inline constexpr const char* kFinishedChannel = "cueball_finished";

// Every part of the run store (run_store.h), on one set of connections:
// the API side (pg_run_store.cc), dispatch (pg_dispatch.cc), upkeep
// (pg_upkeep.cc), waits and signals (pg_waits.cc) and blobs (pg_blobs.cc).
class PgRunStore final : public RunStore,
                         public DispatchStore,
                         public UpkeepStore,
                         public WaitStore,
                         public BlobStore,
                         public ScheduleStore {
 public:
  // `pool_size` connections at most, opened on first use, plus two for the
  // claim and the record (dispatch_pool_); every statement is cancelled
  // after `statement_timeout` (DEADLINE_EXCEEDED).
  PgRunStore(const std::string& dsn, int pool_size, Millis statement_timeout = Millis(30000));

  StatusOr<std::vector<EnqueueResult>> Enqueue(const std::vector<NewRun>& runs) override;
  StatusOr<Run> Get(const std::string& id, bool with_history) override;
  StatusOr<std::vector<Run>> GetMany(const std::vector<std::string>& ids) override;
  StatusOr<std::vector<Run>> List(const RunFilter& filter) override;
  StatusOr<Run> Cancel(const std::string& id, const std::string& reason) override;
  StatusOr<Run> Retry(const std::string& id, const std::string& reason) override;
  StatusOr<int64_t> Count(const RunFilter& filter) override;
  // ScheduleStore (pg_schedules.cc).
  StatusOr<Schedule> CreateSchedule(const Schedule& s) override;
  StatusOr<std::vector<Schedule>> ListSchedules() override;
  StatusOr<Schedule> GetSchedule(const std::string& name) override;
  StatusOr<Schedule> SetSchedulePaused(const std::string& name, bool paused,
                                       std::optional<TimePoint> next_at) override;
  Status DeleteSchedule(const std::string& name) override;
  StatusOr<std::vector<Schedule>> DueSchedules(int limit) override;
  StatusOr<bool> FireSchedule(const std::string& name, TimePoint expected_next, TimePoint new_next,
                              TimePoint tick, const std::optional<NewRun>& run) override;
  StatusOr<BulkBatch> CancelBatch(const RunFilter& filter, const std::string& reason) override;
  StatusOr<BulkBatch> RetryBatch(const RunFilter& filter, const std::string& reason) override;
  using DispatchStore::Claim;
  StatusOr<std::vector<ClaimedRun>> Claim(const std::string& owner,
                                          const std::vector<std::string>& queues,
                                          const std::vector<std::string>& types, int limit,
                                          Millis lease, std::optional<Millis>* next_due) override;
  StatusOr<std::vector<std::string>> ExtendLeases(const std::vector<AttemptRef>& attempts,
                                                  Millis lease) override;
  using DispatchStore::RecordOutcomes;
  StatusOr<std::vector<bool>> RecordOutcomes(const std::vector<Outcome>& outcomes,
                                             Recorded* recorded) override;
  Status RecordStarts(const std::vector<AttemptRef>& attempts) override;
  StatusOr<RowVersions> RunRowVersions() override;
  StatusOr<bool> VacuumRuns() override;
  StatusOr<std::vector<ClaimedRun>> ExpiredLeases(const std::vector<std::string>& types,
                                                  int limit) override;
  StatusOr<int64_t> CountEnqueued() override;
  StatusOr<std::vector<QueueStats>> GetQueueStats() override;
  StatusOr<std::vector<Run>> ExpireDeadlines(int limit) override;
  StatusOr<std::vector<UnfinishedCount>> CountUnfinished() override;
  // Signals and waits (pg_waits.cc).
  StatusOr<SignalResult> Signal(const std::string& run_id, const std::string& name,
                                const std::string& payload,
                                const std::optional<std::string>& idempotency_key) override;
  StatusOr<std::optional<StoredSignal>> TakeSignal(const std::string& run_id,
                                                   const std::string& lease_id, int step_index,
                                                   const std::string& name) override;
  StatusOr<bool> HasWaiters(const std::vector<std::string>& run_ids) override;
  StatusOr<WakeResult> WakeDue(const std::optional<std::vector<std::string>>& finished,
                               int limit) override;
  // Blobs (pg_blobs.cc).
  StatusOr<BlobInfo> PutBlob(const std::string& run_id, const std::string& lease_id,
                             const std::string& name, const std::string& content_type,
                             const std::string& data) override;
  StatusOr<StoredBlob> GetBlob(const std::string& run_id, const std::string& name) override;
  StatusOr<std::vector<BlobInfo>> ListBlobs(const std::string& run_id) override;

  // Called after every commit that wrote events (so the sequencer can number
  // them at once). Set before the store is used; must not block.
  void SetEventsWrittenHook(std::function<void()> hook) { events_written_ = std::move(hook); }

 private:
  void EventsWritten() const {
    if (events_written_) events_written_();
  }
  // One batch of a bulk action (sql/cancel_runs.sql or retry_runs.sql).
  StatusOr<BulkBatch> Batch(const char* what, const sql::Statement& statement, const RunFilter& f,
                            const std::string& reason, bool cancel_descendants);
  // Enqueue's statements in the caller's transaction; `wrote` is set when
  // events were written (for the sequencer, once committed).
  StatusOr<std::vector<EnqueueResult>> EnqueueIn(pqxx::transaction_base& tx,
                                                 const std::vector<NewRun>& runs, bool* wrote);
  // Records one waiting outcome in `tx` (pg_waits.cc), which must be a real
  // transaction: the run's row lock has to hold until it commits. False if
  // its lease is not the run's any more. Adds the run's queue to `ready_queues` when
  // the wait was already over.
  bool RecordWait(pqxx::transaction_base& tx, const Outcome& o,
                  std::set<std::string>* ready_queues);

  // Claims up to `limit` runs in one statement, each queue's scan starting at
  // its key in `from` (the start of the queue when absent); appends to `out`
  // and sets `next_due` as Claim describes (from where the scans started).
  struct ClaimKey {
    int priority = 0;
    int64_t run_at_us = 0;
    std::string id;
  };
  // `queue_array` and `type_array` are `queues` and the types as array literals.
  void ClaimFrom(pqxx::connection& c, const std::string& owner,
                 const std::vector<std::string>& queues, const std::string& queue_array,
                 const std::string& type_array, const std::string& step_array,
                 const std::map<std::string, ClaimKey>& from, int limit, Millis lease,
                 std::vector<ClaimedRun>* out, std::optional<Millis>* next_due);

  PgPool pool_;
  // The claim and the record, which run for every batch of runs, on
  // connections of their own planned for them (see the constructor).
  PgPool dispatch_pool_;

  // Where each queue's next claim starts while a backlog drains: after the
  // last run claimed (see Claim). Empty: from the start of every queue. A
  // key holds only for the queues and types it was claimed for (its scope):
  // the daemon's own claims and each remote worker's have scopes of their
  // own, kept apart so that one's claims do not reset another's keys.
  struct ClaimScope {
    std::map<std::string, ClaimKey> from;
    std::chrono::steady_clock::time_point last_scan_from_start{};
  };
  std::mutex claim_mu_;
  std::map<std::string, ClaimScope> claim_scopes_;  // by scope: queues + types

 public:
  PgPool::Stats pool_stats() { return pool_.stats(); }
  PgPool::Stats dispatch_pool_stats() { return dispatch_pool_.stats(); }
  std::function<void()> events_written_;
};

// Locks run `run_id` (FOR UPDATE) if it is running under `lease_id`, in the
// caller's transaction: its (step_name, attempt, whether the attempt's
// step_started is still unwritten), or no row when the lease is no longer
// this attempt's.
pqxx::result LockLeasedRun(pqxx::transaction_base& tx, const std::string& run_id,
                           const std::string& lease_id);

// One event on its own, as a batch of one, in the caller's transaction.
// With `start`, the row also stands for the attempt's step_started before
// the event (migration 0010).
void InsertEvent(pqxx::transaction_base& tx, const std::string& run_id, const std::string& kind,
                 const std::string& step, int attempt, const std::string& data,
                 const std::optional<AttemptStart>& start = std::nullopt);

// Cancels the unfinished descendants of `parents` (canceled with `reason`)
// in the caller's transaction and announces each (cueball_finished).
void CancelDescendants(pqxx::transaction_base& tx, const std::vector<std::string>& parents,
                       const std::string& reason);

// A run's tags as the JSON object text the tags column holds; nullopt: none.
std::optional<std::string> TagsJson(const std::map<std::string, std::string>& tags);

// Text form of a PostgreSQL array literal of strings, with quoting.
std::string PgTextArray(const std::vector<std::string>& items);

}  // namespace cueball::store::pg
