#include "server/maintenance/retention.h"

#include <spdlog/spdlog.h>

#include "server/logging/logging.h"

namespace cueball::maintenance {

Retention::Retention(store::EventStore* store, store::RetentionPolicy policy, Millis interval)
    : store_(store), policy_(policy), interval_(interval) {}

Retention::~Retention() { Stop(); }

bool Retention::enabled() const { return policy_.succeeded || policy_.failed || policy_.canceled; }

void Retention::Start() {
  if (!enabled()) return;
  loop_.Start(interval_, [this] { Pass(); });
}

void Retention::Stop() { loop_.Stop(); }

StatusOr<store::PruneResult> Retention::RunOnce() {
  store::PruneResult total;
  while (true) {
    auto r = store_->Prune(policy_);
    if (!r.ok()) return r.status();
    total.runs += r->runs;
    total.held = total.held || r->held;
    total.horizon = r->horizon;
    // A short batch means nothing more is due now; so does a batch that was
    // entirely held back.
    if (r->runs < policy_.batch || loop_.stopping()) break;
  }
  return total;
}

void Retention::Pass() {
  auto log = spdlog::get("maint");
  auto r = RunOnce();
  if (!r.ok()) {
    if (log) logging::Warn(log, "retention pass failed", {{"error", r.status().message()}});
    return;
  }
  if (r->runs > 0 && log) logging::Info(log, "retention pruned", {{"runs", r->runs}});
  if (r->held && log) {
    logging::Warn(log,
                  "retention held back: finished runs are due but have events after the "
                  "position a subscription has not acknowledged (see `cueball subscriptions`)",
                  {{"position", r->horizon}});
  }
}

}  // namespace cueball::maintenance
