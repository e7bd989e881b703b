// The daemon's gauges: what /metrics reports of its state on each scrape
// (counters and histograms are kept where things happen). Figures read from
// the database are cached (queue statistics 2 s, unfinished runs 5 s), so
// many gauges and scrapes cost one query each per period.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "server/api/auth.h"
#include "server/engine/dispatcher.h"
#include "server/engine/event_service.h"
#include "server/engine/wait_hub.h"
#include "server/maintenance/node_registry.h"
#include "server/metrics/metrics.h"
#include "server/store/upkeep_store.h"

namespace cueball::app {

// One database connection pool's figures.
struct PoolGauge {
  const char* pool;  // runs, dispatch, events
  int in_use = 0;
  int open = 0;
  int size = 0;
};

// What the gauges read; every pointer must outlive the metrics' scrapes.
struct GaugeSources {
  std::function<bool()> ready;  // serving, with a healthy database
  store::UpkeepStore* upkeep = nullptr;
  maintenance::NodeRegistry* nodes = nullptr;
  engine::Dispatcher* dispatcher = nullptr;
  engine::WaitHub* hub = nullptr;
  engine::EventService* events = nullptr;
  api::Authenticator* auth = nullptr;
  std::function<std::vector<PoolGauge>()> pools;
};

// Adds the gauges to `metrics`; keeps the caches they read, so it must
// live as long as the metrics are scraped.
class Gauges {
 public:
  Gauges(metrics::Metrics* metrics, GaugeSources sources);
  ~Gauges();

 private:
  struct Caches;
  std::unique_ptr<Caches> caches_;
};

// Resident set size from /proc/self/statm, in bytes; 0 if unreadable.
int64_t ResidentBytes();

}  // namespace cueball::app
