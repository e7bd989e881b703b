// Vacuumer: vacuums the runs' table soon after a burst of runs, instead of
// whenever autovacuum comes round (it visits a database once a minute with
// stock settings). Each claimed run leaves its entry in the ready index, at
// the front of its queue's order, until a vacuum removes it; meanwhile every
// claim that looks for a queue's first ready run walks all of them (2 ms per
// claim after 300,000 runs: docs/performance.md, "A vacuum right after a
// burst"). It vacuums only while this daemon's claims find nothing more
// ready (a draining backlog skips those entries by key, and would only pay
// for the vacuum), when the database counts at least `min_dead_rows` dead
// row versions in the table and at least a twentieth of the live ones (a
// large table is not scanned again for a few), and never waits for another
// session's vacuum of it (another daemon's, or autovacuum's). A database
// user that may not vacuum the table (it neither owns it nor the database)
// is told once, in the log, and leaves it to autovacuum.
#pragma once

#include <functional>

#include "server/maintenance/periodic.h"
#include "server/metrics/metrics.h"
#include "server/store/upkeep_store.h"

namespace cueball::maintenance {

class Vacuumer {
 public:
  // `caught_up`: whether this daemon's last claim found nothing more ready.
  // `min_dead_rows` 0: never vacuum (leave it to autovacuum).
  Vacuumer(store::UpkeepStore* store, std::function<bool()> caught_up, int64_t min_dead_rows,
           Millis interval = Millis(1000));
  ~Vacuumer();

  void Start();
  void Stop();
  // One look: vacuums if the dead row versions call for it (regardless of
  // caught_up). True if it vacuumed (tests call this directly).
  StatusOr<bool> RunOnce();
  void set_metrics(metrics::Metrics* m) { metrics_ = m; }

 private:
  store::UpkeepStore* const store_;
  const std::function<bool()> caught_up_;
  const int64_t min_dead_rows_;
  const Millis interval_;
  metrics::Metrics* metrics_ = nullptr;
  bool told_not_allowed_ = false;  // warned once that the user may not vacuum
  Periodic loop_;
};

}  // namespace cueball::maintenance
