// WaitStore: signals and waits (run_store.h lists the parts).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/store/run_store.h"

namespace cueball::store {

class WaitStore {
 public:
  virtual ~WaitStore() = default;

  // Delivers a signal to a run that has not finished: stored (buffered until
  // a step asks for it), with a signal_received event. When the run waits for
  // this name, the signal is bound to its step and the run is enqueued again.
  // A repeated idempotency key changes nothing (duplicate). NOT_FOUND for no
  // such run, FAILED_PRECONDITION for a finished one.
  virtual StatusOr<SignalResult> Signal(const std::string& run_id, const std::string& name,
                                        const std::string& payload,
                                        const std::optional<std::string>& idempotency_key) = 0;

  // For a step running under `lease_id`: the signal `name` already bound to
  // step `step_index`, else the oldest unbound one, bound now; nullopt if
  // none. FAILED_PRECONDITION when the lease is no longer this attempt's.
  virtual StatusOr<std::optional<StoredSignal>> TakeSignal(const std::string& run_id,
                                                           const std::string& lease_id,
                                                           int step_index,
                                                           const std::string& name) = 0;

  // Wakes waiting runs whose wait is over: timers and timeouts that are due,
  // and waits on runs that have finished (only the waiters of `finished`
  // when given, else every such wait). Each woken run is enqueued with its
  // wait marked woken and a run_woken event.
  virtual StatusOr<WakeResult> WakeDue(const std::optional<std::vector<std::string>>& finished,
                                       int limit) = 0;

  // Whether any run waits for one of these runs (a cheap read: most runs
  // that finish have no waiters, and then a waker need not look further).
  virtual StatusOr<bool> HasWaiters(const std::vector<std::string>& run_ids) = 0;
};

}  // namespace cueball::store
