// Deadlines: ends runs past their whole-run deadline (migration 0016). Runs
// in every daemon, every interval: the store fails or cancels, in one
// statement, the unfinished runs whose deadline has passed (their daemons,
// told by NOTIFY cueball_finished, stop running steps; a late outcome is
// refused by the lease fence), and the passes of two daemons skip each
// other's rows.
#pragma once

#include "server/maintenance/periodic.h"
#include "server/metrics/metrics.h"
#include "server/store/upkeep_store.h"

namespace cueball::maintenance {

class Deadlines {
 public:
  Deadlines(store::UpkeepStore* store, Millis interval);
  ~Deadlines();

  void Start();
  void Stop();
  // One pass (up to 500 runs at a time, until none is left): how many runs it ended.
  StatusOr<int> RunOnce();
  // Counts the runs it finishes; null (the default) records nothing.
  void set_metrics(metrics::Metrics* m) { metrics_ = m; }

 private:
  store::UpkeepStore* const store_;
  const Millis interval_;
  metrics::Metrics* metrics_ = nullptr;
  Periodic loop_;
};

}  // namespace cueball::maintenance
