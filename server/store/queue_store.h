// QueueStore: queues as operators see them (migration 0013). A queue exists
// by use: any valid name a run is enqueued on, a daemon or a remote worker
// serves. Its row in cueball_queues holds what an operator set on it
// (paused); the claim statement reads that row, so a pause holds for every
// daemon and worker at once. Thread-safe; UNAVAILABLE when the database is
// unreachable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/domain/run.h"
#include "server/domain/status.h"

namespace cueball::store {

struct QueueInfo {
  std::string name;
  bool paused = false;
  std::string pause_reason;
  std::optional<TimePoint> paused_at;
  int64_t ready = 0;      // enqueued and due
  int64_t scheduled = 0;  // enqueued for later
  int64_t running = 0;
  int64_t waiting = 0;
  double oldest_ready_age_seconds = 0;
  int nodes = 0;    // live daemons serving it
  int workers = 0;  // live remote workers serving it
};

class QueueStore {
 public:
  virtual ~QueueStore() = default;
  // Every known queue (a row, a live daemon or worker serving it, runs on it
  // that have not finished), by name. A daemon is live when it has not
  // stopped and was seen within `node_window`.
  virtual StatusOr<std::vector<QueueInfo>> ListQueues(Millis node_window) = 0;
  // Pauses (paused = true, with `reason`) or resumes a known queue and
  // returns it; NOT_FOUND for a queue that is not known. Pausing a paused
  // queue keeps its paused_at; resuming wakes the dispatchers (NOTIFY).
  virtual StatusOr<QueueInfo> SetPaused(const std::string& name, bool paused,
                                        const std::string& reason, Millis node_window) = 0;
};

}  // namespace cueball::store
