// UpkeepStore: what maintenance asks of the store: runs whose lease expired,
// the runs table's row versions and vacuum, statistics (run_store.h lists the parts).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/store/run_store.h"

namespace cueball::store {

class UpkeepStore {
 public:
  virtual ~UpkeepStore() = default;

  // Runs of these types whose lease has expired by the database clock (their
  // daemon died or hung), oldest expiry first. Read-only: the caller decides
  // and records an outcome fenced on each run's lease id.
  virtual StatusOr<std::vector<ClaimedRun>> ExpiredLeases(const std::vector<std::string>& types,
                                                          int limit) = 0;

  // The database's estimates of the runs' row versions: live ones, and dead
  // ones (every change leaves one, with its index entries, until a vacuum).
  virtual StatusOr<RowVersions> RunRowVersions() = 0;
  // Vacuums the runs' table now. False (skipped, not waited for) while
  // another session vacuums it: another daemon, or autovacuum.
  virtual StatusOr<bool> VacuumRuns() = 0;

  // Per queue with enqueued runs: how many are ready (due now), how many are
  // scheduled for later, and how long the oldest ready one has been due.
  virtual StatusOr<std::vector<QueueStats>> GetQueueStats() = 0;
  // Fails or cancels (per each run's deadline_action) up to `limit` runs
  // past their deadline that have not finished, wherever they are; returns
  // them as changed (id, type, queue, status, step, error). Canceled runs'
  // unfinished descendants are canceled too.
  virtual StatusOr<std::vector<Run>> ExpireDeadlines(int limit) = 0;
  // Runs not finished, by workflow type and queue.
  virtual StatusOr<std::vector<UnfinishedCount>> CountUnfinished() = 0;
};

}  // namespace cueball::store
