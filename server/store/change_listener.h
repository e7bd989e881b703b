// Change notifications from the database (LISTEN/NOTIFY), shared by all
// daemons on one database. Callbacks run on the listener's thread and must
// not block.
#pragma once

#include <cstdint>
#include <string>

namespace cueball::store {

class ChangeListener {
 public:
  virtual ~ChangeListener() = default;
  virtual void OnRunsReady(const std::string& queue) = 0;     // enqueued or due
  virtual void OnRunFinished(const std::string& run_id) = 0;  // reached a terminal state
  // Events up to `head` have their stream positions (see EventStore).
  virtual void OnEventsSequenced(int64_t /*head*/) {}
  // The feed was interrupted and re-established: notifications may have been
  // missed, so anything waiting on them should re-check.
  virtual void OnResync() = 0;
};

}  // namespace cueball::store
