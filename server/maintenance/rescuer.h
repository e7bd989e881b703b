// Rescuer: finds runs whose lease expired (their daemon died, or a step hung
// past the lease) and puts them back per their step's retry policy: the lost
// attempt counts as a failed attempt, with backoff, or fails the run when
// attempts are exhausted. Runs in every daemon; recording is fenced on the
// expired lease id, so two rescuers (or a late original) cannot both win.
#pragma once

#include <random>

#include "server/engine/workflow.h"
#include "server/maintenance/periodic.h"
#include "server/metrics/metrics.h"
#include "server/store/dispatch_store.h"
#include "server/store/upkeep_store.h"

namespace cueball::maintenance {

class Rescuer {
 public:
  // Finds expired leases through `upkeep` and records their outcomes through
  // `dispatch`, fenced like a dispatcher's.
  Rescuer(store::UpkeepStore* upkeep, store::DispatchStore* dispatch,
          const engine::Registry* registry, Millis interval);
  ~Rescuer();

  void Start();
  void Stop();
  // One pass: returns how many runs were rescued (tests call this directly).
  StatusOr<int> RunOnce();
  // Counts rescues and the runs they finish; null (the default) records nothing.
  void set_metrics(metrics::Metrics* m) { metrics_ = m; }

 private:
  store::UpkeepStore* const upkeep_;
  store::DispatchStore* const dispatch_;
  const engine::Registry* const registry_;
  const Millis interval_;
  std::mt19937_64 rng_{std::random_device{}()};
  metrics::Metrics* metrics_ = nullptr;
  Periodic loop_;
};

}  // namespace cueball::maintenance
