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

#include "server/store/postgres/pg_pool.h"
#include "server/store/run_store.h"

namespace cueball::store::pg {

inline constexpr const char* kReadyChannel = "cueball_ready";
inline constexpr const char* kFinishedChannel = "cueball_finished";

// Also the BlobStore: blobs live with their runs and share the pool.
class PgRunStore final : public RunStore, public BlobStore {
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
  using RunStore::Claim;
  StatusOr<std::vector<ClaimedRun>> Claim(const std::string& owner,
                                          const std::vector<std::string>& queues,
                                          const std::vector<std::string>& types, int limit,
                                          Millis lease, std::optional<Millis>* next_due) override;
  StatusOr<std::vector<std::string>> ExtendLeases(const std::vector<AttemptRef>& attempts,
                                                  Millis lease) override;
  using RunStore::RecordOutcomes;
  StatusOr<std::vector<bool>> RecordOutcomes(const std::vector<Outcome>& outcomes,
                                             Recorded* recorded) override;
  Status RecordStarts(const std::vector<AttemptRef>& attempts) override;
  StatusOr<RowVersions> RunRowVersions() override;
  StatusOr<bool> VacuumRuns() override;
  StatusOr<std::vector<ClaimedRun>> ExpiredLeases(const std::vector<std::string>& types,
                                                  int limit) override;
  StatusOr<int64_t> CountEnqueued() override;
  StatusOr<std::vector<QueueStats>> GetQueueStats() override;
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
                 const std::string& type_array, const std::map<std::string, ClaimKey>& from,
                 int limit, Millis lease, std::vector<ClaimedRun>* out,
                 std::optional<Millis>* next_due);

  PgPool pool_;
  // The claim and the record, which run for every batch of runs, on
  // connections of their own planned for them (see the constructor).
  PgPool dispatch_pool_;

  // Where each queue's next claim starts while a backlog drains: after the
  // last run claimed (see Claim). Empty: from the start of every queue.
  std::mutex claim_mu_;
  std::map<std::string, ClaimKey> claim_from_;
  std::string claim_scope_;  // the queues and types the keys were claimed for
  std::chrono::steady_clock::time_point last_scan_from_start_{};

 public:
  PgPool::Stats pool_stats() { return pool_.stats(); }
  PgPool::Stats dispatch_pool_stats() { return dispatch_pool_.stats(); }
  std::function<void()> events_written_;
};

// Every query that returns runs selects Cols() (kRunColumnCount columns, in
// this order) and reads them with RunFromRow.
inline constexpr int kRunColumnCount = 20;
std::string Cols();
Run RunFromRow(const pqxx::row& row, int first = 0);

// Locks run `run_id` (FOR UPDATE) if it is running under `lease_id`, in the
// caller's transaction: its (step_name, attempt, whether the attempt's
// step_started is still unwritten), or no row when the lease is no longer
// this attempt's.
pqxx::result LockLeasedRun(pqxx::transaction_base& tx, const std::string& run_id,
                           const std::string& lease_id);

// Events are written in batches (migration 0006): every statement that writes
// events inserts them with one batch row, which the sequencer numbers later.
// WithEvents(sql, rows, columns) puts the CTEs that do it ("ev_batch, ev,
// ev_count") in place of `%EVENTS%` in a WITH list of `sql`; `rows` is a
// SELECT yielding run_id, kind, step, attempt, data (jsonb) and n, the
// event's place in the batch (1, 2, 3, ...; a run's events in the run's
// order), and the columns `columns` names:
// - kEventStart: `started_at` (timestamptz) and `started_by` (text); a row
//   whose started_at is set stands for a step_started before its own event
//   (migration 0010);
// - kEventAlso: `also` (text); a row whose `also` is set stands for a
//   second event of that kind after its own (migration 0009);
// - kEventTime: `created_at`, the event's time (else the statement's).
// A row's events are at n, n + 1, ... in that order, so the next row's n
// leaves room. `ev` returns one row per row written. A batch with no events
// writes no batch row.
inline constexpr unsigned kEventStart = 1, kEventAlso = 2, kEventTime = 4;
std::string WithEvents(std::string sql, const std::string& rows, unsigned columns = 0);

// One event on its own, as a batch of one, in the caller's transaction.
// With `start`, the row also stands for the attempt's step_started before
// the event (migration 0010).
void InsertEvent(pqxx::transaction_base& tx, const std::string& run_id, const std::string& kind,
                 const std::string& step, int attempt, const std::string& data,
                 const std::optional<AttemptStart>& start = std::nullopt);

// Whether any run waits for one of the runs $1 (text[] of ids). Prepared on
// every connection of the run store's pool: the waker asks it after every
// burst of finished runs (pg_waits.cc).
inline constexpr const char* kHasWaitersStmt = "cueball_has_waiters";
inline constexpr const char* kHasWaitersSql =
    "SELECT EXISTS (SELECT 1 FROM cueball_run_waits WHERE target_id = ANY($1::text[]::uuid[]))";

// Text form of a PostgreSQL array literal of strings, with quoting.
std::string PgTextArray(const std::vector<std::string>& items);

}  // namespace cueball::store::pg
