#include "server/maintenance/deadlines.h"

#include <spdlog/spdlog.h>

#include "server/logging/logging.h"

namespace cueball::maintenance {
namespace {

constexpr int kBatch = 500;

std::shared_ptr<spdlog::logger> Log() {
  auto l = spdlog::get("maint");
  return l ? l : spdlog::default_logger();
}

}  // namespace

Deadlines::Deadlines(store::UpkeepStore* store, Millis interval)
    : store_(store), interval_(interval) {}

Deadlines::~Deadlines() { Stop(); }

void Deadlines::Start() {
  loop_.Start(interval_, [this] {
    auto n = RunOnce();
    if (!n.ok()) {
      logging::Warn(Log(), "run deadlines not checked", {{"error", n.status().message()}});
    }
  });
}

void Deadlines::Stop() { loop_.Stop(); }

StatusOr<int> Deadlines::RunOnce() {
  int total = 0;
  while (!loop_.stopping()) {
    auto ended = store_->ExpireDeadlines(kBatch);
    if (!ended.ok()) return ended.status();
    for (const Run& r : *ended) {
      if (metrics_) metrics_->RunFinished(r.workflow_type, RunStatusName(r.status));
      logging::Info(Log(), "run deadline passed",
                    {{"run", r.id},
                     {"type", r.workflow_type},
                     {"status", RunStatusName(r.status)},
                     {"step", r.step_name}});
    }
    total += static_cast<int>(ended->size());
    if (static_cast<int>(ended->size()) < kBatch) break;
  }
  return total;
}

}  // namespace cueball::maintenance
