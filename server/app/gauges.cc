#include "server/app/gauges.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <string>

#include "server/domain/version.h"

namespace cueball::app {
namespace {

// A figure read from the database at most once per `ttl`, however many
// gauges and scrapes ask (empty when the read fails).
template <typename T>
class Cached {
 public:
  Cached(std::function<StatusOr<T>()> read, Millis ttl) : read_(std::move(read)), ttl_(ttl) {}
  T Get() {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_read_) {
      auto r = read_();
      value_ = r.ok() ? *r : T{};
      next_read_ = now + ttl_;
    }
    return value_;
  }

 private:
  const std::function<StatusOr<T>()> read_;
  const Millis ttl_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point next_read_{};
  T value_{};
};

std::vector<metrics::Sample> One(double value) { return {{{}, value}}; }

}  // namespace

int64_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

struct Gauges::Caches {
  explicit Caches(store::UpkeepStore* upkeep)
      : queue_stats([upkeep] { return upkeep->GetQueueStats(); }, Millis(2000)),
        unfinished([upkeep] { return upkeep->CountUnfinished(); }, Millis(5000)) {}
  Cached<std::vector<store::QueueStats>> queue_stats;
  Cached<std::vector<store::UnfinishedCount>> unfinished;
};

Gauges::~Gauges() = default;

Gauges::Gauges(metrics::Metrics* metrics, GaugeSources s)
    : caches_(std::make_unique<Caches>(s.upkeep)) {
  Caches* c = caches_.get();
  metrics->AddGauge("cueball_ready", "1 while this daemon serves calls and its database is healthy",
                    [ready = s.ready] { return One(ready() ? 1.0 : 0.0); });
  metrics->AddGauge("cueball_build_info", "Always 1; the version label names this build", [] {
    return std::vector<metrics::Sample>{{{{"version", kVersion}}, 1.0}};
  });
  metrics->AddGauge(
      "cueball_runs_unserved",
      "Unfinished runs whose workflow type no live daemon runs on their queue, by type and "
      "queue: they are not claimed, nor rescued, until such a daemon starts",
      [c, nodes = s.nodes] {
        std::vector<metrics::Sample> out;
        for (const auto& u : c->unfinished.Get()) {
          if (nodes->Serves(u.workflow_type, u.queue).value_or(true)) continue;
          out.push_back({{{"workflow_type", u.workflow_type}, {"queue", u.queue}},
                         static_cast<double>(u.runs)});
        }
        return out;
      });
  metrics->AddGauge("cueball_queue_ready_runs",
                    "Enqueued runs due now, by queue (the whole database, as seen by this daemon)",
                    [c] {
                      std::vector<metrics::Sample> out;
                      for (const auto& q : c->queue_stats.Get())
                        out.push_back({{{"queue", q.queue}}, static_cast<double>(q.ready)});
                      return out;
                    });
  metrics->AddGauge("cueball_queue_scheduled_runs", "Enqueued runs due later, by queue", [c] {
    std::vector<metrics::Sample> out;
    for (const auto& q : c->queue_stats.Get())
      out.push_back({{{"queue", q.queue}}, static_cast<double>(q.scheduled)});
    return out;
  });
  metrics->AddGauge("cueball_queue_oldest_ready_age_seconds",
                    "How long the oldest ready run of each queue has been due", [c] {
                      std::vector<metrics::Sample> out;
                      for (const auto& q : c->queue_stats.Get())
                        out.push_back({{{"queue", q.queue}}, q.oldest_ready_age_seconds});
                      return out;
                    });
  metrics->AddGauge(
      "cueball_steps_in_flight",
      "Runs this daemon holds claimed now: steps running, plus runs claimed ahead waiting for a "
      "worker",
      [d = s.dispatcher] { return One(static_cast<double>(d->in_flight())); });
  metrics->AddGauge("cueball_waiters_active", "Wait calls pending in this daemon",
                    [hub = s.hub] { return One(static_cast<double>(hub->waiting())); });
  metrics->AddGauge("cueball_event_streams_active", "WatchEvents streams open on this daemon",
                    [events = s.events] { return One(static_cast<double>(events->watchers())); });
  metrics->AddGauge(
      "cueball_db_pool_connections",
      "Database connections by pool (runs: calls and steps; dispatch: claims and records; "
      "events: streams) and state",
      [pools = s.pools] {
        std::vector<metrics::Sample> out;
        for (const PoolGauge& p : pools()) {
          out.push_back({{{"pool", p.pool}, {"state", "in_use"}}, static_cast<double>(p.in_use)});
          out.push_back({{{"pool", p.pool}, {"state", "open"}}, static_cast<double>(p.open)});
          out.push_back({{{"pool", p.pool}, {"state", "max"}}, static_cast<double>(p.size)});
        }
        return out;
      });
  metrics->AddGauge("process_resident_memory_bytes", "Resident memory of this daemon",
                    [] { return One(static_cast<double>(ResidentBytes())); });
  metrics->AddGauge("cueball_auth_tokens", "Bearer tokens currently accepted (0: auth off)",
                    [auth = s.auth] {
                      return One(auth->enabled() ? static_cast<double>(auth->token_count()) : 0.0);
                    });
}

}  // namespace cueball::app
